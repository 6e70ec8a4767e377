// Serves every open Sweeps.WatchSweep stream from one thread.
//
// WatchSweep is a callback-API method (ServerWriteReactor), so an open
// stream holds no thread of the gRPC server's bounded sync pool: a crowd of
// `ladder watch` clients cannot starve the Agent service (heartbeats,
// leases) that shares the server. The hub's thread polls the store for each
// open stream every `poll_interval` (one query set at a time, so streams
// also cost no more than one database connection) and writes what changed.
//
// Streams are capped per client (the bearer token's id when the call
// carries one, else the peer's host) and in total; a stream beyond a cap is
// refused with RESOURCE_EXHAUSTED naming the cap's flag.
//
// Thread-safe. Lifetime: Stop (or the destructor) finishes the streams
// still open and waits until gRPC is done with every one, so call it after
// the server's Shutdown has cancelled its calls, and before the store goes.
#pragma once

#include <grpcpp/grpcpp.h>

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/fit_feed.h"
#include "server/sweep_manager.h"

namespace ladder {

class WatchHub {
 public:
  struct Options {
    // How often each open stream is checked for changes.
    std::chrono::milliseconds poll_interval{500};
    // Open streams allowed per client (token or peer host), and in all.
    int max_per_client = 8;
    int max_total = 256;
  };
  // `fits` (may be null: no fits in the events) outlives the hub.
  WatchHub(store::SweepStore* sweeps, FitFeed* fits, Options options);
  ~WatchHub();
  WatchHub(const WatchHub&) = delete;
  WatchHub& operator=(const WatchHub&) = delete;

  void Start();
  // Finishes the open streams with UNAVAILABLE and waits until gRPC has
  // released each of them (OnDone). Idempotent.
  void Stop();

  // The reactor serving a new WatchSweep call; gRPC owns it. One beyond a
  // cap (or after Stop) finishes at once with RESOURCE_EXHAUSTED
  // (UNAVAILABLE).
  grpc::ServerWriteReactor<v1::SweepEvent>* Open(grpc::CallbackServerContext* ctx,
                                                 int64_t sweep_id);

  // Streams gRPC still holds (open, or finished but not yet done).
  int open_streams() const;

  // "token <id>" for a call authorised by a bearer token, else
  // "peer <host>" (the peer address without its port).
  static std::string ClientKey(const grpc::CallbackServerContext& ctx);

 private:
  class Stream;
  friend class Stream;

  void Run();
  // One look at `s` on the hub's thread; true when it was finished.
  bool Step(Stream* s, std::chrono::steady_clock::time_point now);
  void Finish(Stream* s, grpc::Status status);
  void Wake();
  void Release(const std::string& client);  // from Stream::OnDone

  store::SweepStore* const sweeps_;
  const Options options_;
  FitFeed* const fits_;

  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::vector<Stream*> streams_;           // not yet finished; guarded by mu_
  std::map<std::string, int> per_client_;  // held by gRPC; guarded by mu_
  int total_ = 0;                          // guarded by mu_
  bool wake_ = false;                      // guarded by mu_
  std::atomic<bool> stopping_{false};
  bool started_ = false;
  std::thread thread_;
};

}  // namespace ladder
