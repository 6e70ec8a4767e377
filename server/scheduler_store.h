// What the Scheduler needs from the stores, as one narrow interface (TF
// Serving's mock server core is the model): the lease store's worker side,
// the end of sweeps, and the scheduling snapshot for the gauges.
// PgSchedulerStore implements it over the PostgreSQL stores; unit tests use
// an in-memory fake (server/scheduler_test.cc).
//
// Implementations are thread-safe.
#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "server/coordinator_metrics.h"
#include "server/store/lease_store.h"

namespace ladder {

namespace store {
class SweepStore;
class StatsStore;
}  // namespace store

class SchedulerStore {
 public:
  virtual ~SchedulerStore() = default;

  // The lease store's worker side (server/store/lease_store.h says what each does).
  virtual absl::StatusOr<int64_t> RegisterWorker(const v1::RegisterWorkerRequest& request) = 0;
  virtual std::chrono::milliseconds lease_ttl() const = 0;
  virtual absl::StatusOr<v1::LeaseRunResponse> LeaseRun(int64_t worker_id,
                                                        int32_t device_index) = 0;
  virtual absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request) = 0;
  virtual absl::StatusOr<v1::ReportProgressResponse> ReportProgress(
      const v1::ReportProgressRequest& request) = 0;
  virtual absl::StatusOr<store::AttemptEnd> CompleteAttempt(
      const v1::CompleteAttemptRequest& request) = 0;
  virtual absl::StatusOr<store::AttemptEnd> FailAttempt(const v1::FailAttemptRequest& request) = 0;
  virtual absl::StatusOr<store::LeaseStore::Expired> ExpireLeases() = 0;

  // Group commit (the lease store's batch methods): answers in request order.
  // The defaults call the single methods one by one.
  virtual std::vector<absl::StatusOr<v1::LeaseRunResponse>> LeaseRuns(
      const std::vector<store::LeaseStore::LeaseAsk>& asks);
  virtual std::vector<absl::StatusOr<v1::HeartbeatResponse>> Heartbeats(
      const std::vector<const v1::HeartbeatRequest*>& requests);
  virtual std::vector<absl::StatusOr<v1::ReportProgressResponse>> ReportProgresses(
      const std::vector<const v1::ReportProgressRequest*>& requests);
  virtual std::vector<absl::StatusOr<store::AttemptEnd>> CompleteAttempts(
      const std::vector<const v1::CompleteAttemptRequest*>& requests);
  virtual absl::StatusOr<int> MarkSilentWorkersGone(std::chrono::milliseconds silence) = 0;

  // Moves an active sweep whose runs have all ended to its final state
  // (idempotent); FinishDoneSweeps does it for every active sweep.
  virtual absl::Status FinishSweepIfDone(int64_t sweep_id) = 0;
  virtual absl::Status FinishDoneSweeps() = 0;

  // What the scheduling gauges show.
  virtual absl::StatusOr<SchedulingSnapshot> ReadSnapshot() = 0;
};

// Over the PostgreSQL stores (which must outlive it).
class PgSchedulerStore final : public SchedulerStore {
 public:
  PgSchedulerStore(store::LeaseStore* leases, store::SweepStore* sweeps, store::StatsStore* stats)
      : leases_(leases), sweeps_(sweeps), stats_(stats) {}

  absl::StatusOr<int64_t> RegisterWorker(const v1::RegisterWorkerRequest& request) override;
  std::chrono::milliseconds lease_ttl() const override;
  absl::StatusOr<v1::LeaseRunResponse> LeaseRun(int64_t worker_id, int32_t device_index) override;
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest& request) override;
  absl::StatusOr<v1::ReportProgressResponse> ReportProgress(
      const v1::ReportProgressRequest& request) override;
  absl::StatusOr<store::AttemptEnd> CompleteAttempt(
      const v1::CompleteAttemptRequest& request) override;
  absl::StatusOr<store::AttemptEnd> FailAttempt(const v1::FailAttemptRequest& request) override;
  absl::StatusOr<store::LeaseStore::Expired> ExpireLeases() override;
  std::vector<absl::StatusOr<v1::LeaseRunResponse>> LeaseRuns(
      const std::vector<store::LeaseStore::LeaseAsk>& asks) override;
  std::vector<absl::StatusOr<v1::HeartbeatResponse>> Heartbeats(
      const std::vector<const v1::HeartbeatRequest*>& requests) override;
  std::vector<absl::StatusOr<v1::ReportProgressResponse>> ReportProgresses(
      const std::vector<const v1::ReportProgressRequest*>& requests) override;
  std::vector<absl::StatusOr<store::AttemptEnd>> CompleteAttempts(
      const std::vector<const v1::CompleteAttemptRequest*>& requests) override;
  absl::StatusOr<int> MarkSilentWorkersGone(std::chrono::milliseconds silence) override;
  absl::Status FinishSweepIfDone(int64_t sweep_id) override;
  absl::Status FinishDoneSweeps() override;
  absl::StatusOr<SchedulingSnapshot> ReadSnapshot() override;

 private:
  store::LeaseStore* leases_;
  store::SweepStore* sweeps_;
  store::StatsStore* stats_;
};

}  // namespace ladder
