// FakeAgent: an in-process ladder.v1.Agent server on a real socket
// (127.0.0.1, port chosen at the first Start) for the worker's tests. It
// leases scripted runs in order, records everything the worker reports, and
// injects faults: a stopped server (Stop/Start on the same port, as a
// coordinator restart looks to a worker), failing CompleteAttempt calls,
// revoked leases, an operator drain.
//
// Semantics it shares with the real coordinator (the worker relies on them):
//   - RegisterWorker with a known name returns the same worker id;
//   - a lease token is checked on every attempt call: unknown attempt ->
//     NOT_FOUND, wrong or revoked token -> FAILED_PRECONDITION;
//   - a repeated CompleteAttempt/FailAttempt returns already_recorded;
//   - FailAttempt re-queues the run while attempts remain (reason `drained`
//     does not count as a try; bad_config and data are never retried).
//
// Thread-safe: gRPC's threads serve calls while the test thread scripts and
// inspects.
#pragma once

#include <grpcpp/security/server_credentials.h>
#include <grpcpp/server.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <vector>

#include "ladder/v1/ladder.grpc.pb.h"

namespace ladder::worker::testing {

class FakeAgent {
 public:
  struct Options {
    int heartbeat_interval_ms = 100;
    int lease_ttl_ms = 10000;
    // Transport security; null = plaintext.
    std::shared_ptr<grpc::ServerCredentials> credentials;
  };

  struct AttemptRecord {
    int64_t attempt_id = 0;
    int64_t run_id = 0;
    int attempt_number = 0;
    std::string lease_token;
    std::string started_json;  // first started_json received
    std::vector<ladder::v1::CurvePoint> points;
    int progress_calls = 0;
    int complete_calls = 0;  // including refused ones
    int fail_calls = 0;
    std::string result_json;  // from the first accepted CompleteAttempt
    std::string fail_reason;  // from the first accepted FailAttempt
    std::string fail_message;
    bool revoked = false;
    bool finished() const { return !result_json.empty() || !fail_reason.empty(); }
  };

  FakeAgent();
  explicit FakeAgent(Options options);
  ~FakeAgent();

  // Starts serving: on a fresh 127.0.0.1 port the first time, on the same
  // port after a Stop.
  void Start();
  // Shuts the server down; calls in flight fail and new ones see UNAVAILABLE.
  // Recorded state is kept.
  void Stop();
  std::string address() const;  // "127.0.0.1:PORT"

  // ---- scripting
  // Queues a run; LeaseRun grants queued runs in order.
  void AddRun(int64_t run_id, std::string config_json, int max_attempts = 1);
  // The next Heartbeat lists it as revoked; attempt calls for it fail with
  // FAILED_PRECONDITION, except ReportProgress, which answers revoked=true.
  void RevokeAttempt(int64_t attempt_id);
  // drain=true in every Heartbeat and LeaseRun reply (and no more grants).
  void SetDrain(bool drain);
  // Forgets every registered worker (as a coordinator that lost them would):
  // their Heartbeat and LeaseRun calls get NOT_FOUND until they register again.
  void ForgetWorkers();
  // The next `count` CompleteAttempt calls fail with `code` (nothing recorded).
  void FailNextCompletes(int count, grpc::StatusCode code = grpc::StatusCode::UNAVAILABLE);

  // ---- observations (copies)
  std::vector<AttemptRecord> Attempts() const;
  std::optional<AttemptRecord> AttemptOfRun(int64_t run_id, int attempt_number = 1) const;
  int registrations() const;
  int heartbeats() const;
  // The most devices one LeaseRun asked for (1 for a call naming device_index).
  int max_devices_per_lease() const;
  // The attempt ids listed in the most recent Heartbeat.
  std::vector<int64_t> LastHeartbeatAttempts() const;
  int queued_runs() const;
  // The `authorization` header of the last RegisterWorker call ("" if none).
  std::string last_authorization() const;

  // Polls `condition` (called without the lock held) after every call the
  // server handles, and every 20 ms, until it holds or `timeout` passes.
  bool WaitFor(const std::function<bool()>& condition, std::chrono::milliseconds timeout) const;

 private:
  class Service;
  friend class Service;

  struct QueuedRun {
    int64_t run_id = 0;
    std::string config_json;
    int max_attempts = 1;
    int attempts = 0;  // counted tries
    int next_number = 1;
  };

  const Options options_;
  std::unique_ptr<Service> service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;

  mutable std::mutex mu_;
  mutable std::condition_variable changed_;
  std::map<std::string, int64_t> workers_;  // name -> id
  std::deque<QueuedRun> queue_;
  std::map<int64_t, QueuedRun> runs_;  // run_id -> state (for retries)
  std::map<int64_t, AttemptRecord> attempts_;
  int64_t next_attempt_id_ = 100;
  int registrations_ = 0;
  int max_devices_per_lease_ = 0;
  int heartbeats_ = 0;
  std::vector<int64_t> last_heartbeat_attempts_;
  std::vector<int64_t> pending_revocations_;
  bool drain_ = false;
  std::string last_authorization_;
  int fail_completes_ = 0;
  grpc::StatusCode fail_completes_code_ = grpc::StatusCode::UNAVAILABLE;
};

}  // namespace ladder::worker::testing
