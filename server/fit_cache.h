// The latest fits of each sweep, parsed, kept in memory for predictions
// (parsing a stored fit costs ~0.3 ms; a prediction from a parsed one costs
// microseconds). Entries are re-read after `ttl`, so fits stored by another
// coordinator on the same database are picked up; this coordinator's refit
// loop invalidates a sweep as soon as it stores a fit.
//
// Thread-safe.
#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <map>
#include <mutex>
#include <vector>

#include "common/clock.h"
#include "server/fit_data.h"
#include "server/store/fit_store.h"

namespace ladder {

class FitCache {
 public:
  // `clock` (steady time) ages the entries.
  FitCache(FitSource* fits, std::chrono::milliseconds ttl, Clock* clock = Clock::Real())
      : fits_(fits), ttl_(ttl), clock_(clock) {}

  // Latest version of every (family, form) of the sweep.
  absl::StatusOr<std::vector<StoredFit>> Latest(int64_t sweep_id);
  // The latest fit of (family, form), or NOT_FOUND naming what is missing.
  absl::StatusOr<StoredFit> Find(int64_t sweep_id, const std::string& family, fit::FitForm form);
  void Invalidate(int64_t sweep_id);

 private:
  struct Entry {
    std::vector<StoredFit> fits;
    Clock::SteadyTime read;
  };
  FitSource* fits_;
  const std::chrono::milliseconds ttl_;
  Clock* clock_;
  std::mutex mu_;
  std::map<int64_t, Entry> entries_;  // guarded by mu_
};

}  // namespace ladder
