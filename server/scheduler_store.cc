#include "server/scheduler_store.h"

#include "server/store/stats_store.h"
#include "server/store/sweep_store.h"

namespace ladder {

absl::StatusOr<int64_t> PgSchedulerStore::RegisterWorker(const v1::RegisterWorkerRequest& request) {
  return leases_->RegisterWorker(request);
}

std::chrono::milliseconds PgSchedulerStore::lease_ttl() const { return leases_->settings().ttl; }

absl::StatusOr<v1::LeaseRunResponse> PgSchedulerStore::LeaseRun(int64_t worker_id,
                                                                int32_t device_index) {
  return leases_->LeaseRun(worker_id, device_index);
}

absl::StatusOr<v1::HeartbeatResponse> PgSchedulerStore::Heartbeat(
    const v1::HeartbeatRequest& request) {
  return leases_->Heartbeat(request);
}

absl::StatusOr<v1::ReportProgressResponse> PgSchedulerStore::ReportProgress(
    const v1::ReportProgressRequest& request) {
  return leases_->ReportProgress(request);
}

absl::StatusOr<store::AttemptEnd> PgSchedulerStore::CompleteAttempt(
    const v1::CompleteAttemptRequest& request) {
  return leases_->CompleteAttempt(request);
}

absl::StatusOr<store::AttemptEnd> PgSchedulerStore::FailAttempt(
    const v1::FailAttemptRequest& request) {
  return leases_->FailAttempt(request);
}

absl::StatusOr<store::LeaseStore::Expired> PgSchedulerStore::ExpireLeases() {
  return leases_->ExpireLeases();
}

absl::StatusOr<int> PgSchedulerStore::MarkSilentWorkersGone(std::chrono::milliseconds silence) {
  return leases_->MarkSilentWorkersGone(silence);
}

absl::Status PgSchedulerStore::FinishSweepIfDone(int64_t sweep_id) {
  return sweeps_->FinishSweepIfDone(sweep_id);
}

absl::Status PgSchedulerStore::FinishDoneSweeps() { return sweeps_->FinishDoneSweeps(); }

absl::StatusOr<SchedulingSnapshot> PgSchedulerStore::ReadSnapshot() {
  return stats_->ReadSnapshot();
}

}  // namespace ladder
