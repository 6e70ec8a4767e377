// Answers Fits.Backtest (issue 11): how far a sweep's ladder can be trusted.
// A request is validated on the calling (gRPC handler) thread, which then
// only waits: the refits of the backtest engine (server/fit/backtest.h) run
// on this object's own threads, like the refit loop's, so a backtest of a
// large sweep cannot take the RPC threads' cores.
//
// Answers are cached per fit version: the key is (sweep, family filter,
// form) and the entry remembers the ids of the sweep's latest fits of that
// form when it was computed (FitSource::LatestFits). A refit stores new
// versions, so the next request recomputes; the same versions answer from
// the cache (`cached` set). Identical requests arriving while one is being
// computed share that computation. The cache holds a bounded number of
// entries, least recently used evicted first.
//
// A call waits for its answer until just before its deadline (capped by
// Options::max_wait); a backtest still running then answers UNAVAILABLE,
// "backtest of sweep S still computing; retry", and keeps running, so the
// retry finds it in flight or in the cache.
//
// Thread-safe.
#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <deque>
#include <list>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/clock.h"
#include "ladder/v1/ladder.pb.h"
#include "server/coordinator_metrics.h"
#include "server/fit/backtest.h"
#include "server/fit_data.h"

namespace ladder {

class Backtests {
 public:
  struct Options {
    int compute_threads = 1;    // backtests computed at once
    int max_queued = 16;        // backtests waiting for a thread; more: UNAVAILABLE
    size_t cache_entries = 64;  // answers kept (LRU)
    // The longest a call waits for its answer (a call without a deadline
    // would otherwise hold an RPC thread for as long as the backtest runs).
    std::chrono::milliseconds max_wait{std::chrono::minutes(10)};
    // The refit loop's fit options (server/refit_loop.h), so a backtest's
    // fits are made like the stored ones.
    int fit_threads = 0;  // threads per fit; 0 = all cores
    int bootstrap_resamples = 200;
    uint64_t seed = 1;
  };

  // `fits` answers sweeps and fit versions, `data` the observations; both
  // (usually one PgFitData) and `clock` must outlive this object. `metrics`
  // may be null.
  Backtests(FitSource* fits, RefitStore* data, CoordinatorMetrics* metrics, Options options,
            Clock* clock = Clock::Real());
  ~Backtests();

  void Start();
  // Callers waiting get UNAVAILABLE at once, queued backtests are dropped;
  // returns when the backtest being computed (if any) has finished.
  void Stop();

  // Answers `request`, waiting for the computation at most `wait` (less a
  // margin, so the answer reaches a caller whose deadline is `wait` away).
  // NOT_FOUND: no such sweep. INVALID_ARGUMENT naming `family` or `form`.
  // UNAVAILABLE: still computing (retry), queue full, or stopping.
  absl::StatusOr<v1::BacktestResponse> Run(const v1::BacktestRequest& request,
                                           std::chrono::milliseconds wait);

  // Backtests computed (not answered from the cache) since construction.
  int computed() const;

 private:
  struct Job;
  // What a request resolves to once validated.
  struct Resolved {
    int64_t sweep_id = 0;
    std::string family;  // "" = every family
    fit::FitForm form = fit::FitForm::kPowerLawCompute;
    std::vector<int64_t> fit_ids;  // the fit version this answer is for
  };
  struct CacheEntry {
    std::vector<int64_t> fit_ids;
    v1::BacktestResponse response;
    std::list<std::string>::iterator lru;  // position in lru_
  };

  absl::StatusOr<Resolved> Resolve(const v1::BacktestRequest& request);
  absl::StatusOr<fit::FitForm> ResolveForm(int64_t sweep_id, const std::string& form);
  absl::StatusOr<std::vector<int64_t>> FitVersion(int64_t sweep_id, const std::string& family,
                                                  fit::FitForm form);
  absl::StatusOr<v1::BacktestResponse> Compute(const Resolved& r);
  void Loop();
  // Counts how a call was answered, and passes `out` through.
  absl::StatusOr<v1::BacktestResponse> Answered(const char* answer,
                                                absl::StatusOr<v1::BacktestResponse> out);
  // With mu_ held: keeps `response` for `slot`, evicting the least recently used.
  void Remember(const std::string& slot, const std::vector<int64_t>& fit_ids,
                const v1::BacktestResponse& response);

  FitSource* fits_;
  RefitStore* data_;
  CoordinatorMetrics* metrics_;
  const Options options_;
  Clock* clock_;

  mutable std::mutex mu_;
  std::condition_variable work_cv_;                        // a job was queued, or stopping
  std::condition_variable done_cv_;                        // a job finished, or stopping
  std::deque<std::shared_ptr<Job>> queue_;                 // guarded by mu_
  std::map<std::string, std::shared_ptr<Job>> in_flight_;  // by full key; guarded by mu_
  std::map<std::string, CacheEntry> cache_;                // by slot; guarded by mu_
  std::list<std::string> lru_;                             // slots, most recent first
  bool stopping_ = false;                                  // guarded by mu_
  int computed_ = 0;                                       // guarded by mu_
  std::vector<std::thread> threads_;
};

// The engine's answer on the wire (cached and compute_seconds left unset).
v1::BacktestResponse BacktestToProto(int64_t sweep_id, const fit::BacktestResult& result);

}  // namespace ladder
