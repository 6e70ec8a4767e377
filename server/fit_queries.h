// Answers the Fits API from the latest stored fits: which fit serves a
// question, input validation naming the field at fault, and conversion of
// the engine's answers to the wire. No refitting: predictions evaluate the
// stored law and its bootstrap samples (microseconds per query).
//
// Thread-safe.
#pragma once

#include <absl/status/statusor.h>

#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "server/fit/fit_result.h"
#include "server/fit_cache.h"
#include "server/fit_data.h"
#include "server/fit_feed.h"

namespace ladder {

class FitQueries : public FitFeed {
 public:
  // `fits` answers history and existence; `cache` the latest fits.
  FitQueries(FitSource* fits, FitCache* cache) : fits_(fits), cache_(cache) {}

  absl::StatusOr<v1::GetFitResponse> GetFit(const v1::GetFitRequest& request);
  absl::StatusOr<v1::ListFitHistoryResponse> History(const v1::ListFitHistoryRequest& request);
  // (params, tokens) -> chinchilla (or data_constrained); compute ->
  // power_law_compute (or chinchilla at the compute-optimal allocation).
  absl::StatusOr<v1::PredictLossResponse> PredictLoss(const v1::PredictLossRequest& request);
  // chinchilla (or isoflop).
  absl::StatusOr<v1::OptimalAllocationResponse> Optimal(
      const v1::OptimalAllocationRequest& request);
  // CEG curve from both families' power_law_compute (or chinchilla) fits.
  absl::StatusOr<v1::CompareFamiliesResponse> Compare(const v1::CompareFamiliesRequest& request);

  // Fits of a sweep stored after `after_id` (for watch streams).
  absl::StatusOr<std::vector<v1::Fit>> FitsAfter(int64_t sweep_id, int64_t after_id) override;

 private:
  // NOT_FOUND for an unknown sweep; INVALID_ARGUMENT (naming `field`) for a
  // family the sweep does not have.
  absl::Status CheckFamily(int64_t sweep_id, const std::string& family, const char* field);
  // A sweep's families (NOT_FOUND for an unknown sweep). They never change,
  // so they are read from the database once per sweep, not once per query.
  absl::StatusOr<std::vector<std::string>> Families(int64_t sweep_id);
  // The first ok fit among `forms` for the family, or FAILED_PRECONDITION
  // saying why each one cannot answer.
  absl::StatusOr<StoredFit> FirstOk(int64_t sweep_id, const std::string& family,
                                    const std::vector<fit::FitForm>& forms);

  FitSource* fits_;
  FitCache* cache_;
  std::mutex mu_;
  std::map<int64_t, std::vector<std::string>> families_;  // guarded by mu_
};

}  // namespace ladder
