// Scaling-law fits in PostgreSQL, and the observations they are fitted to.
// Fits are versioned: every refit is a new row (sweep, family, form,
// version), so the history of a prediction as the ladder climbs is kept.
// A fit row holds exactly what fit::FitResultToJson produces; the store
// passes it as JSON and knows nothing of the fit engine's types.
//
// Thread-safe; one transaction per method.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "server/store/pg_pool.h"

namespace ladder::store {

// One succeeded run as the fits see it (server/stored_fit.h makes it a
// fit::Observation). NaN loss when the run has none.
struct ObservationRow {
  int64_t run_id = 0;
  std::string family;
  double params = 0;         // non-embedding parameters
  double tokens = 0;         // tokens trained
  double flops = 0;          // exact training FLOPs
  double flops_6nd = 0;      // 6ND
  double loss = 0;           // final eval loss
  double unique_tokens = 0;  // 0: all fresh
  double budget = 0;         // isoflop budget of its plan, 0 if none
  // The corpus its data came from, in tokens; 0 = unknown. The trainer's
  // corpus_tokens; for an imported run or one that repeated data, its
  // unique_tokens (the whole corpus, seen).
  double corpus_tokens = 0;
  struct CurvePoint {
    double tokens = 0;
    double flops = 0;
    double loss = 0;  // eval loss
  };
  std::vector<CurvePoint> curve;  // eval points, in step order (when asked)
};

// One row of `fits`: its identity, and the fit as the JSON object whose keys
// are the columns (what fit::FitResultToJson writes and FitResultFromJson
// reads; server/stored_fit.h converts).
struct FitRow {
  int64_t id = 0;
  int64_t sweep_id = 0;
  int version = 0;
  int64_t created_unix_ms = 0;
  nlohmann::json fit;
};

class FitStore {
 public:
  explicit FitStore(PgPool* pool) : pool_(pool) {}

  // One observation per succeeded run of the sweep (N non-embedding, D, exact
  // and 6ND compute, final eval loss, unique tokens, isoflop budget), with
  // the eval points of its loss curve when `with_curves`.
  absl::StatusOr<std::vector<ObservationRow>> LoadObservations(int64_t sweep_id, bool with_curves);

  // Stores `fit` (the JSON object of FitRow::fit) as the next version for
  // (sweep, family, form) and returns the row as stored.
  absl::StatusOr<FitRow> StoreFit(int64_t sweep_id, const nlohmann::json& fit);

  // The latest version of each (family, form) of a sweep; "" filters match all.
  absl::StatusOr<std::vector<FitRow>> LatestFits(int64_t sweep_id, const std::string& family,
                                                 const std::string& form);
  // Every version, oldest first.
  absl::StatusOr<std::vector<FitRow>> FitHistory(int64_t sweep_id, const std::string& family,
                                                 const std::string& form);
  // Fits of a sweep stored after fit id `after_id`, oldest first.
  absl::StatusOr<std::vector<FitRow>> FitsAfter(int64_t sweep_id, int64_t after_id);

  // Sweeps with a run that succeeded after their newest fit (or no fit yet):
  // refit them at start-up so nothing is missed across a restart.
  absl::StatusOr<std::vector<int64_t>> SweepsNeedingRefit();

 private:
  PgPool* pool_;
};

}  // namespace ladder::store
