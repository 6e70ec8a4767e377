// Input validation shared by the fits: which runs a fit may use, and why the
// others were left out. A fit never sees NaN losses, non-positive sizes or a
// mix of families.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/fit/observation.h"

namespace ladder::fit {

struct UsableRuns {
  std::vector<Observation> runs;  // the runs that passed, in input order
  std::string family;             // their family ("" when none passed)
  int dropped = 0;
  // Why runs were dropped, e.g. "2 runs with a non-finite or non-positive
  // loss"; empty when none were.
  std::string dropped_reason;
  // Set when the input cannot be fitted at all (several families).
  std::string error;
};

// Keeps the runs with finite positive loss, params, tokens and compute (in
// `count`), finite non-negative unique tokens and budget. Curve points are
// kept as given (the frontier checks them). Runs of several families are an
// error: fit one family at a time.
UsableRuns SelectUsableRuns(const std::vector<Observation>& runs, FlopsCount count);

// A seeded random `k` of the indices 0..n-1 (all when k <= 0 or k >= n),
// drawn without replacement, in increasing order.
std::vector<int> SubsampleIndices(int n, int k, uint64_t seed);

// Keeps a seeded random `max_runs` of usable->runs (all when max_runs <= 0
// or there are no more), in input order. Returns how many there were.
int SubsampleRuns(int max_runs, uint64_t seed, UsableRuns* usable);

// The number of distinct values of `values` at relative tolerance 1e-9.
int CountDistinct(std::vector<double> values);

}  // namespace ladder::fit
