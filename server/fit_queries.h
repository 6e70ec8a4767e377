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
#include "server/fit/observation.h"
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
  // The form the request names (INVALID_ARGUMENT naming `form` if unknown,
  // FAILED_PRECONDITION saying why if its fit is not usable), or the first
  // usable of: (params, tokens) -> chinchilla, data_constrained; compute ->
  // power_law_shared_e, power_law_compute, chinchilla (at the
  // compute-optimal allocation). Reports the target's tokens (a compute
  // target's from the sweep's tokens-per-compute recipe, data_budget.h), the
  // sweep's corpus and the epochs between them. Beyond one epoch, with no
  // form named, an ok data_constrained fit answers (at the recipe's N and D
  // for a compute target); otherwise a warning says the law assumes fresh
  // data. Warnings also carry the answering fit's parameters on a bound.
  absl::StatusOr<v1::PredictLossResponse> PredictLoss(const v1::PredictLossRequest& request);
  // chinchilla (or isoflop); the epochs of the corpus D_opt needs, with the
  // same warnings.
  absl::StatusOr<v1::OptimalAllocationResponse> Optimal(
      const v1::OptimalAllocationRequest& request);
  // CEG curve from both families' fits of one form: the request's, or the
  // first of power_law_shared_e, power_law_compute, chinchilla that both
  // have usable. Warnings: either fit's parameters on a bound.
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
  // `form` when named (already checked by CheckForm), else the first ok of
  // `defaults`.
  absl::StatusOr<StoredFit> Choose(int64_t sweep_id, const std::string& family,
                                   const std::string& form,
                                   const std::vector<fit::FitForm>& defaults);
  // The sweep's succeeded runs, read again once a fit newer than `fit_id`'s
  // last read answers (new results bring a refit, so a new fit id).
  absl::StatusOr<std::vector<fit::Observation>> Runs(int64_t sweep_id, int64_t fit_id);

  FitSource* fits_;
  FitCache* cache_;
  std::mutex mu_;
  std::map<int64_t, std::vector<std::string>> families_;  // guarded by mu_
  struct RunsRead {
    int64_t fit_id = 0;  // the newest fit id they were read for
    std::vector<fit::Observation> runs;
  };
  std::map<int64_t, RunsRead> runs_;  // by sweep; guarded by mu_
};

}  // namespace ladder
