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
// At start it refits every sweep with results newer than its newest fit.
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

#include "server/coordinator_metrics.h"
#include "server/fit/fit_options.h"
#include "server/fit_cache.h"
#include "server/store/fit_store.h"
#include "server/store/sweep_store.h"

namespace ladder {

class RefitLoop {
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
  // `metrics` and `cache` may be null. `on_stored` (optional) is told of each stored fit.
  RefitLoop(store::FitStore* fits, store::SweepStore* sweeps, FitCache* cache,
            CoordinatorMetrics* metrics, Options options);
  ~RefitLoop();

  void Start();
  void Stop();
  // Refit `sweep_id` once `debounce` has passed and its pacing allows
  // (calls meanwhile coalesce).
  void Schedule(int64_t sweep_id);
  // Refits now, on the calling thread.
  absl::Status RefitNow(int64_t sweep_id);
  // Refits that have completed since start (for tests).
  int completed() const;

 private:
  void Loop();

  store::FitStore* fits_;
  store::SweepStore* sweeps_;
  FitCache* cache_;
  CoordinatorMetrics* metrics_;
  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::map<int64_t, std::chrono::steady_clock::time_point> due_;  // guarded by mu_
  // Earliest next refit per sweep, from the pacing.
  std::map<int64_t, std::chrono::steady_clock::time_point> not_before_;  // guarded by mu_
  bool stopping_ = false;                                                // guarded by mu_
  int completed_ = 0;                                                    // guarded by mu_
  std::thread thread_;
};

// The forms fitted for a sweep of `kind` with these observations.
std::vector<fit::FitForm> FormsForSweep(const std::string& kind,
                                        const std::vector<fit::Observation>& runs);

}  // namespace ladder
