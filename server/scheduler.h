// Scheduling on top of the lease store: the Agent RPCs' logic, and the
// maintenance loop that reclaims expired leases, marks silent workers gone
// and closes finished sweeps. Several coordinators may run one each against
// the same database: every step is a transaction that tolerates the others.
//
// The stores come through SchedulerStore (server/scheduler_store.h) and time
// through a Clock, so the rules are unit-tested with fakes
// (server/scheduler_test.cc).
//
// Thread-safe. Start() runs the loop on its own thread until Stop().
#pragma once

#include <absl/status/statusor.h>

#include <atomic>
#include <condition_variable>
#include <mutex>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "ladder/v1/ladder.pb.h"
#include "server/attempt_observer.h"
#include "server/coordinator_metrics.h"
#include "server/scheduler_store.h"

namespace ladder {

class Scheduler {
 public:
  struct Options {
    std::chrono::milliseconds heartbeat_interval{5000};
    std::chrono::milliseconds maintenance_interval{1000};
    std::chrono::milliseconds worker_gone_after{90000};
  };
  // `metrics` may be null (no metrics). `store` and `clock` must outlive it.
  Scheduler(SchedulerStore* store, CoordinatorMetrics* metrics, Options options,
            Clock* clock = Clock::Real());
  ~Scheduler();

  // Tells `observer` of every attempt that a Complete or Fail ended, after
  // it committed. Add observers before Start and before serving RPCs.
  void AddObserver(AttemptObserver* observer) { observers_.push_back(observer); }

  absl::StatusOr<v1::RegisterWorkerResponse> Register(const v1::RegisterWorkerRequest& request);
  absl::StatusOr<v1::LeaseRunResponse> Lease(const v1::LeaseRunRequest& request);
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request);
  absl::StatusOr<v1::ReportProgressResponse> Progress(const v1::ReportProgressRequest& request);
  absl::StatusOr<v1::CompleteAttemptResponse> Complete(const v1::CompleteAttemptRequest& request);
  absl::StatusOr<v1::FailAttemptResponse> Fail(const v1::FailAttemptRequest& request);

  // Group commit (server/group_commit.h): the same calls, many at once, each
  // batch written in one transaction; answers in request order. The single
  // methods above are batches of one.
  std::vector<absl::StatusOr<v1::LeaseRunResponse>> LeaseBatch(
      const std::vector<const v1::LeaseRunRequest*>& requests);
  std::vector<absl::StatusOr<v1::HeartbeatResponse>> HeartbeatBatch(
      const std::vector<const v1::HeartbeatRequest*>& requests);
  std::vector<absl::StatusOr<v1::ReportProgressResponse>> ProgressBatch(
      const std::vector<const v1::ReportProgressRequest*>& requests);
  std::vector<absl::StatusOr<v1::CompleteAttemptResponse>> CompleteBatch(
      const std::vector<const v1::CompleteAttemptRequest*>& requests);

  // One maintenance pass (also what the loop runs).
  absl::Status MaintainOnce();

  void Start();
  void Stop();

 private:
  void Loop();
  void Ended(const store::AttemptEnd& end, enums::AttemptOutcome outcome,
             const std::string& reason);

  SchedulerStore* store_;
  CoordinatorMetrics* metrics_;
  const Options options_;
  Clock* clock_;
  std::vector<AttemptObserver*> observers_;
  std::mutex mu_;
  std::condition_variable cv_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ladder
