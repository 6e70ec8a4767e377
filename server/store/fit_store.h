// Scaling-law fits in PostgreSQL, and the observations they are fitted to.
// Fits are versioned: every refit is a new row (sweep, family, form,
// version), so the history of a prediction as the ladder climbs is kept.
// A fit row holds exactly what fit::FitResultToJson produces.
//
// Thread-safe; one transaction per method.
#pragma once

#include <absl/status/statusor.h>

#include <memory>
#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "server/fit/fit_result.h"
#include "server/fit/observation.h"
#include "server/store/pg_pool.h"

namespace ladder::store {

// A stored fit: its row identity and the rebuilt engine object.
struct StoredFit {
  int64_t id = 0;
  int64_t sweep_id = 0;
  int version = 0;
  int64_t created_unix_ms = 0;
  std::shared_ptr<const fit::FitResult> result;
};

class FitStore {
 public:
  explicit FitStore(PgPool* pool) : pool_(pool) {}

  // One observation per succeeded run of the sweep (N non-embedding, D, exact
  // and 6ND compute, final eval loss, unique tokens, isoflop budget), with
  // the eval points of its loss curve when `with_curves`.
  absl::StatusOr<std::vector<fit::Observation>> LoadObservations(int64_t sweep_id,
                                                                 bool with_curves);

  // Stores `fit` as the next version for (sweep, family, form).
  absl::StatusOr<StoredFit> StoreFit(int64_t sweep_id, const fit::FitResult& fit);

  // The latest version of each (family, form) of a sweep; "" filters match all.
  absl::StatusOr<std::vector<StoredFit>> LatestFits(int64_t sweep_id, const std::string& family,
                                                    const std::string& form);
  // Every version, oldest first.
  absl::StatusOr<std::vector<StoredFit>> FitHistory(int64_t sweep_id, const std::string& family,
                                                    const std::string& form);
  // Fits of a sweep stored after fit id `after_id`, oldest first.
  absl::StatusOr<std::vector<StoredFit>> FitsAfter(int64_t sweep_id, int64_t after_id);

  // Sweeps with a run that succeeded after their newest fit (or no fit yet):
  // refit them at start-up so nothing is missed across a restart.
  absl::StatusOr<std::vector<int64_t>> SweepsNeedingRefit();

 private:
  PgPool* pool_;
};

// The wire form of a stored fit (parameters with intervals, quality, ...).
v1::Fit FitToProto(const StoredFit& fit);

}  // namespace ladder::store
