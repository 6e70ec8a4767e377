// What the fit side of the coordinator reads and writes, as two narrow
// interfaces (TF Serving's mock server core is the model): FitSource for
// the answers (FitQueries, FitCache), RefitStore for the refits (RefitLoop).
// PgFitData implements both over the PostgreSQL stores; unit tests use
// in-memory fakes (server/fake_fit_data.h).
//
// Implementations are thread-safe.
#pragma once

#include <absl/status/statusor.h>

#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "server/fit/fit_result.h"
#include "server/fit/observation.h"
#include "server/store/fit_store.h"
#include "server/stored_fit.h"

namespace ladder {

namespace store {
class SweepStore;
}  // namespace store

class FitSource {
 public:
  virtual ~FitSource() = default;
  // NOT_FOUND if there is no such sweep.
  virtual absl::StatusOr<v1::Sweep> GetSweep(int64_t sweep_id) = 0;
  // The latest version of each (family, form) of a sweep; "" filters match all.
  virtual absl::StatusOr<std::vector<StoredFit>> LatestFits(int64_t sweep_id,
                                                            const std::string& family,
                                                            const std::string& form) = 0;
  // Every version, oldest first.
  virtual absl::StatusOr<std::vector<StoredFit>> FitHistory(int64_t sweep_id,
                                                            const std::string& family,
                                                            const std::string& form) = 0;
  // Fits of a sweep stored after fit id `after_id`, oldest first.
  virtual absl::StatusOr<std::vector<StoredFit>> FitsAfter(int64_t sweep_id, int64_t after_id) = 0;
  // One observation per succeeded run (no curves): what predictions report
  // of the data behind them (the corpus, the tokens-per-compute recipe).
  virtual absl::StatusOr<std::vector<fit::Observation>> SweepRuns(int64_t sweep_id) = 0;
};

class RefitStore {
 public:
  virtual ~RefitStore() = default;
  // NOT_FOUND if there is no such sweep.
  virtual absl::StatusOr<v1::Sweep> GetSweep(int64_t sweep_id) = 0;
  // One observation per succeeded run of the sweep (no curves).
  virtual absl::StatusOr<std::vector<fit::Observation>> LoadObservations(int64_t sweep_id) = 0;
  // Stores `fit` as the next version for (sweep, family, form).
  virtual absl::Status StoreFit(int64_t sweep_id, const fit::FitResult& fit) = 0;
  // Sweeps with results newer than their newest fit.
  virtual absl::StatusOr<std::vector<int64_t>> SweepsNeedingRefit() = 0;
};

// Both, over the PostgreSQL stores (which must outlive it).
class PgFitData final : public FitSource, public RefitStore {
 public:
  PgFitData(store::SweepStore* sweeps, store::FitStore* fits) : sweeps_(sweeps), fits_(fits) {}

  absl::StatusOr<v1::Sweep> GetSweep(int64_t sweep_id) override;
  absl::StatusOr<std::vector<StoredFit>> LatestFits(int64_t sweep_id, const std::string& family,
                                                    const std::string& form) override;
  absl::StatusOr<std::vector<StoredFit>> FitHistory(int64_t sweep_id, const std::string& family,
                                                    const std::string& form) override;
  absl::StatusOr<std::vector<StoredFit>> FitsAfter(int64_t sweep_id, int64_t after_id) override;
  absl::StatusOr<std::vector<fit::Observation>> SweepRuns(int64_t sweep_id) override;
  absl::StatusOr<std::vector<fit::Observation>> LoadObservations(int64_t sweep_id) override;
  absl::Status StoreFit(int64_t sweep_id, const fit::FitResult& fit) override;
  absl::StatusOr<std::vector<int64_t>> SweepsNeedingRefit() override;

 private:
  store::SweepStore* sweeps_;
  store::FitStore* fits_;
};

}  // namespace ladder
