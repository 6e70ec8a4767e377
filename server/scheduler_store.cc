#include "server/scheduler_store.h"

#include "server/store/stats_store.h"
#include "server/store/sweep_store.h"

namespace ladder {

std::vector<absl::StatusOr<v1::LeaseRunResponse>> SchedulerStore::LeaseRuns(
    const std::vector<store::LeaseStore::LeaseAsk>& asks) {
  std::vector<absl::StatusOr<v1::LeaseRunResponse>> out;
  for (const auto& ask : asks) {
    v1::LeaseRunResponse merged;
    absl::Status error;
    for (int32_t device : ask.devices) {
      auto one = LeaseRun(ask.worker_id, device);
      if (!one.ok()) {
        error = one.status();
        break;
      }
      merged.set_drain(merged.drain() || one->drain());
      if (!one->granted()) continue;
      if (!merged.granted()) *merged.mutable_lease() = one->lease();
      merged.set_granted(true);
      *merged.add_leases() = one->lease();
    }
    if (error.ok()) {
      out.push_back(std::move(merged));
    } else {
      out.push_back(error);
    }
  }
  return out;
}

std::vector<absl::StatusOr<v1::HeartbeatResponse>> SchedulerStore::Heartbeats(
    const std::vector<const v1::HeartbeatRequest*>& requests) {
  std::vector<absl::StatusOr<v1::HeartbeatResponse>> out;
  for (const auto* r : requests) out.push_back(Heartbeat(*r));
  return out;
}

std::vector<absl::StatusOr<v1::ReportProgressResponse>> SchedulerStore::ReportProgresses(
    const std::vector<const v1::ReportProgressRequest*>& requests) {
  std::vector<absl::StatusOr<v1::ReportProgressResponse>> out;
  for (const auto* r : requests) out.push_back(ReportProgress(*r));
  return out;
}

std::vector<absl::StatusOr<store::AttemptEnd>> SchedulerStore::CompleteAttempts(
    const std::vector<const v1::CompleteAttemptRequest*>& requests) {
  std::vector<absl::StatusOr<store::AttemptEnd>> out;
  for (const auto* r : requests) out.push_back(CompleteAttempt(*r));
  return out;
}

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

std::vector<absl::StatusOr<v1::LeaseRunResponse>> PgSchedulerStore::LeaseRuns(
    const std::vector<store::LeaseStore::LeaseAsk>& asks) {
  return leases_->LeaseRuns(asks);
}

std::vector<absl::StatusOr<v1::HeartbeatResponse>> PgSchedulerStore::Heartbeats(
    const std::vector<const v1::HeartbeatRequest*>& requests) {
  return leases_->Heartbeats(requests);
}

std::vector<absl::StatusOr<v1::ReportProgressResponse>> PgSchedulerStore::ReportProgresses(
    const std::vector<const v1::ReportProgressRequest*>& requests) {
  return leases_->ReportProgresses(requests);
}

std::vector<absl::StatusOr<store::AttemptEnd>> PgSchedulerStore::CompleteAttempts(
    const std::vector<const v1::CompleteAttemptRequest*>& requests) {
  return leases_->CompleteAttempts(requests);
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
