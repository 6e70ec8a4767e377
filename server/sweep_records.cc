#include "server/sweep_records.h"

#include "server/store/worker_store.h"

namespace ladder {

absl::StatusOr<v1::Sweep> PgSweepRecords::CreateSweep(const store::NewSweep& sweep,
                                                      const std::vector<store::NewRun>& runs) {
  return sweeps_->CreateSweep(sweep, runs);
}

absl::StatusOr<v1::Sweep> PgSweepRecords::CreateImportedSweep(
    const v1::ImportResultsRequest& request) {
  return sweeps_->CreateImportedSweep(request);
}

absl::StatusOr<v1::Sweep> PgSweepRecords::GetSweep(int64_t sweep_id) {
  return sweeps_->GetSweep(sweep_id);
}

absl::StatusOr<std::vector<v1::Sweep>> PgSweepRecords::ListSweeps(bool active_only, int limit) {
  return sweeps_->ListSweeps(active_only, limit);
}

absl::StatusOr<v1::Sweep> PgSweepRecords::CancelSweep(int64_t sweep_id) {
  return sweeps_->CancelSweep(sweep_id);
}

absl::StatusOr<store::SweepStore::RunPage> PgSweepRecords::ListRunsPage(
    int64_t sweep_id, std::optional<enums::RunState> state, int64_t after_ordinal, int limit) {
  return sweeps_->ListRunsPage(sweep_id, state, after_ordinal, limit);
}

absl::StatusOr<v1::Run> PgSweepRecords::GetRun(int64_t run_id, bool include_curve) {
  return sweeps_->GetRun(run_id, include_curve);
}

absl::StatusOr<int64_t> PgSweepRecords::LargestDeviceMemory(const std::string& device) {
  return workers_->LargestDeviceMemory(device);
}

}  // namespace ladder
