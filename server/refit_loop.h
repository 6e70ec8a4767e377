// Refits a sweep's scaling laws as its results arrive: debounced per sweep
// and run on the loop's own thread, off the RPC path. Each pass fits every
// family of the sweep with every form that suits its kind and stores each
// result as a new fit version (a fit that cannot be made is stored too, with
// its status and reason):
//   ladder, grid:       power_law_compute, chinchilla
//   isoflop:            power_law_compute, chinchilla, isoflop
//   data_constrained:   data_constrained, chinchilla
//   imported:           power_law_compute, chinchilla, plus isoflop and
//                       data_constrained when the runs carry budgets or
//                       unique tokens
// and then power_law_shared_e over all families at once when FitsSharedE
// (one fit per family).
// At start it refits every sweep with results newer than its newest fit.
// It is an AttemptObserver: every succeeded attempt schedules its sweep; and
// an ImportObserver: every imported sweep is scheduled.
//
// Time (the debounce, the pacing) is read from a Clock, so tests drive it
// with a FakeClock; the data comes through RefitStore (server/fit_data.h).
//
// Thread-safe: Schedule may be called from any thread.
#pragma once

#include <absl/status/status.h>

#include <chrono>
#include <condition_variable>
#include <functional>
#include <map>
#include <mutex>
#include <set>
#include <thread>

#include "common/clock.h"
#include "common/enums/enums.h"
#include "server/attempt_observer.h"
#include "server/coordinator_metrics.h"
#include "server/fit/fit_options.h"
#include "server/fit/fit_result.h"
#include "server/fit/observation.h"
#include "server/fit_cache.h"
#include "server/fit_data.h"
#include "server/import_observer.h"

namespace ladder {

class RefitLoop final : public AttemptObserver, public ImportObserver {
 public:
  struct Options {
    std::chrono::milliseconds debounce{2000};  // wait this long after a result before refitting
    // After a refit that took t, the sweep's next one waits at least
    // pacing x t: a sweep of thousands of runs whose refit takes a second
    // cannot keep the refit thread (and a core) busy all the time.
    double pacing = 10;
    int fit_threads = 0;  // threads per fit; 0 = all cores
    int bootstrap_resamples = 200;
    uint64_t seed = 1;
  };
  // `metrics` and `cache` may be null; `data` and `clock` must outlive the loop.
  RefitLoop(RefitStore* data, FitCache* cache, CoordinatorMetrics* metrics, Options options,
            Clock* clock = Clock::Real());
  ~RefitLoop() override;

  void Start();
  void Stop();
  // Refit `sweep_id` once `debounce` has passed and its pacing allows
  // (calls meanwhile coalesce).
  void Schedule(int64_t sweep_id);
  // Schedules the sweep of every succeeded attempt.
  void OnAttemptEnded(const store::AttemptEnd& end, enums::AttemptOutcome outcome) override;
  // Schedules every imported sweep.
  void OnSweepImported(int64_t sweep_id) override { Schedule(sweep_id); }
  // Refits now, on the calling thread.
  absl::Status RefitNow(int64_t sweep_id);
  // Refits that have completed since start (for tests).
  int completed() const;
  // Blocks until `n` refits have completed, or `timeout` (real time) passed;
  // true if they have (for tests).
  bool AwaitCompleted(int n, std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;

 private:
  void Loop();
  // The target gauges (predicted loss and the epochs it needs) per family,
  // from the fit a compute prediction would use.
  void PublishTargets(const v1::Sweep& sweep, const std::vector<fit::Observation>& runs,
                      const std::map<std::string, std::vector<fit::Observation>>& by_family,
                      const std::vector<fit::FitResult>& results);

  RefitStore* data_;
  FitCache* cache_;
  CoordinatorMetrics* metrics_;
  const Options options_;
  Clock* clock_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  mutable std::condition_variable completed_cv_;  // a refit completed
  std::map<int64_t, Clock::SteadyTime> due_;      // guarded by mu_
  // Earliest next refit per sweep, from the pacing.
  std::map<int64_t, Clock::SteadyTime> not_before_;  // guarded by mu_
  uint64_t changes_ = 0;   // guarded by mu_; counts Schedule and Stop calls
  bool stopping_ = false;  // guarded by mu_
  int completed_ = 0;      // guarded by mu_
  std::thread thread_;
};

// Whether a refit of `sweep` also fits power_law_shared_e over its families
// (one E, each family its own A and alpha): the spec's fit.shared_e, or,
// where the spec does not say, two or more families. Imported sweeps carry
// no spec, so their families are taken to share data and tokenizer; a
// question can still name power_law_compute (each family its own E).
bool FitsSharedE(const v1::Sweep& sweep);

// The forms fitted for a sweep of `kind` with these observations.
std::vector<fit::FitForm> FormsForSweep(enums::SweepKind kind,
                                        const std::vector<fit::Observation>& runs);

}  // namespace ladder
