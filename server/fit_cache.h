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

#include "server/store/fit_store.h"

namespace ladder {

class FitCache {
 public:
  FitCache(store::FitStore* fits, std::chrono::milliseconds ttl) : fits_(fits), ttl_(ttl) {}

  // Latest version of every (family, form) of the sweep.
  absl::StatusOr<std::vector<store::StoredFit>> Latest(int64_t sweep_id);
  // The latest fit of (family, form), or NOT_FOUND naming what is missing.
  absl::StatusOr<store::StoredFit> Find(int64_t sweep_id, const std::string& family,
                                        const std::string& form);
  void Invalidate(int64_t sweep_id);

 private:
  struct Entry {
    std::vector<store::StoredFit> fits;
    std::chrono::steady_clock::time_point read;
  };
  store::FitStore* fits_;
  const std::chrono::milliseconds ttl_;
  std::mutex mu_;
  std::map<int64_t, Entry> entries_;  // guarded by mu_
};

}  // namespace ladder
