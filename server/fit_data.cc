#include "server/fit_data.h"

#include "server/fit/fit_json.h"
#include "server/store/sweep_store.h"

namespace ladder {

absl::StatusOr<v1::Sweep> PgFitData::GetSweep(int64_t sweep_id) {
  return sweeps_->GetSweep(sweep_id);
}

absl::StatusOr<std::vector<StoredFit>> PgFitData::LatestFits(int64_t sweep_id,
                                                             const std::string& family,
                                                             const std::string& form) {
  auto rows = fits_->LatestFits(sweep_id, family, form);
  if (!rows.ok()) return rows.status();
  return StoredFitsFromRows(*rows);
}

absl::StatusOr<std::vector<StoredFit>> PgFitData::FitHistory(int64_t sweep_id,
                                                             const std::string& family,
                                                             const std::string& form) {
  auto rows = fits_->FitHistory(sweep_id, family, form);
  if (!rows.ok()) return rows.status();
  return StoredFitsFromRows(*rows);
}

absl::StatusOr<std::vector<StoredFit>> PgFitData::FitsAfter(int64_t sweep_id, int64_t after_id) {
  auto rows = fits_->FitsAfter(sweep_id, after_id);
  if (!rows.ok()) return rows.status();
  return StoredFitsFromRows(*rows);
}

absl::StatusOr<std::vector<fit::Observation>> PgFitData::LoadObservations(int64_t sweep_id) {
  auto rows = fits_->LoadObservations(sweep_id, /*with_curves=*/false);
  if (!rows.ok()) return rows.status();
  return ObservationsFromRows(*rows);
}

absl::StatusOr<std::vector<fit::Observation>> PgFitData::SweepRuns(int64_t sweep_id) {
  return LoadObservations(sweep_id);
}

absl::Status PgFitData::StoreFit(int64_t sweep_id, const fit::FitResult& fit) {
  return fits_->StoreFit(sweep_id, fit::FitResultToJson(fit)).status();
}

absl::StatusOr<std::vector<int64_t>> PgFitData::SweepsNeedingRefit() {
  return fits_->SweepsNeedingRefit();
}

}  // namespace ladder
