// Scheduling on top of the lease store: the Agent RPCs' logic, and the
// maintenance loop that reclaims expired leases, marks silent workers gone
// and closes finished sweeps. Several coordinators may run one each against
// the same database: every step is a transaction that tolerates the others.
//
// Thread-safe. Start() runs the loop on its own thread until Stop().
#pragma once

#include <absl/status/statusor.h>

#include <atomic>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "server/coordinator_metrics.h"
#include "server/store/lease_store.h"
#include "server/store/stats_store.h"
#include "server/store/sweep_store.h"

namespace ladder {

class Scheduler {
 public:
  struct Options {
    std::chrono::milliseconds heartbeat_interval{5000};
    std::chrono::milliseconds maintenance_interval{1000};
    std::chrono::milliseconds worker_gone_after{90000};
  };
  // Called (on the calling RPC thread or the maintenance thread) after a
  // transaction that ended an attempt, or touched these sweeps, committed.
  using AttemptEndedFn = std::function<void(const store::AttemptEnd&, const std::string& outcome)>;
  using SweepsTouchedFn = std::function<void(const std::vector<int64_t>& sweep_ids)>;

  // `stats` and `metrics` may be null (no metrics).
  Scheduler(store::LeaseStore* leases, store::SweepStore* sweeps, store::StatsStore* stats,
            CoordinatorMetrics* metrics, Options options);
  ~Scheduler();

  void OnAttemptEnded(AttemptEndedFn fn) { on_attempt_ended_ = std::move(fn); }
  void OnSweepsTouched(SweepsTouchedFn fn) { on_sweeps_touched_ = std::move(fn); }

  absl::StatusOr<v1::RegisterWorkerResponse> Register(const v1::RegisterWorkerRequest& request);
  absl::StatusOr<v1::LeaseRunResponse> Lease(const v1::LeaseRunRequest& request);
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);
  absl::StatusOr<v1::ReportProgressResponse> Progress(const v1::ReportProgressRequest& request);
  absl::StatusOr<v1::CompleteAttemptResponse> Complete(const v1::CompleteAttemptRequest& request);
  absl::StatusOr<v1::FailAttemptResponse> Fail(const v1::FailAttemptRequest& request);

  // One maintenance pass (also what the loop runs).
  absl::Status MaintainOnce();

  void Start();
  void Stop();

 private:
  void Loop();

  store::LeaseStore* leases_;
  store::SweepStore* sweeps_;
  store::StatsStore* stats_;
  CoordinatorMetrics* metrics_;
  const Options options_;
  AttemptEndedFn on_attempt_ended_;
  SweepsTouchedFn on_sweeps_touched_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ladder
