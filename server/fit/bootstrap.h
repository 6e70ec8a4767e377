// Intervals by the percentile bootstrap over runs (Efron & Tibshirani 1993,
// "An Introduction to the Bootstrap", ch. 13): resample the runs with
// replacement, refit, and take the 2.5% and 97.5% quantiles of a quantity
// over the refits. Resamples are seeded from (seed, resample index) alone, so
// results do not depend on thread count or scheduling.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <vector>

#include "server/fit/fit_result.h"

namespace ladder::fit {

// The q-quantile (0..1) of `values` by linear interpolation between order
// statistics (Hyndman & Fan 1996, type 7, R's default). NaNs are ignored,
// infinities are ordered normally. NaN when nothing is left. Reorders values.
double Quantile(std::vector<double>* values, double q);

// {estimate, 2.5% quantile, 97.5% quantile} of `samples` (NaN bounds when empty).
Interval PercentileInterval(double estimate, std::vector<double> samples);

// How many times each of n runs appears in resample `resample`: n draws with
// replacement. Deterministic in (seed, resample).
std::vector<int> ResampleCounts(int n, uint64_t seed, int resample);

// The same within strata: run i belongs to stratum[i] (any ints); each
// stratum is resampled with replacement to its own size (the IsoFLOP fit
// keeps every budget's design this way).
std::vector<int> StratifiedResampleCounts(const std::vector<int>& stratum, uint64_t seed,
                                          int resample);

// A generator for resample-specific randomness (e.g. which extra starts a
// resample tries), independent of ResampleCounts' stream.
uint64_t ResampleSeed(uint64_t seed, int resample, uint64_t stream);

struct BootstrapOutcome {
  std::vector<std::vector<double>> samples;  // law vectors of successful refits, in resample order
  int requested = 0;
  int failed = 0;
};

// Calls refit(resample) for resample in [0, resamples) on up to `threads`
// threads; refit returns the refitted law vector, or nullopt when the refit
// failed. refit must be thread-safe.
BootstrapOutcome RunBootstrap(int resamples, int threads,
                              const std::function<std::optional<std::vector<double>>(int)>& refit);

}  // namespace ladder::fit
