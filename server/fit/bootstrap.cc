#include "server/fit/bootstrap.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <random>

#include "server/fit/parallel.h"

namespace ladder::fit {

namespace {

// SplitMix64 (Steele, Lea & Flood 2014): decorrelates nearby seeds.
uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

}  // namespace

double Quantile(std::vector<double>* values, double q) {
  std::vector<double>& v = *values;
  v.erase(std::remove_if(v.begin(), v.end(), [](double x) { return std::isnan(x); }), v.end());
  if (v.empty()) return std::numeric_limits<double>::quiet_NaN();
  std::sort(v.begin(), v.end());
  const double h = q * (static_cast<double>(v.size()) - 1.0);
  const size_t lo = static_cast<size_t>(std::floor(h));
  const size_t hi = std::min(lo + 1, v.size() - 1);
  const double frac = h - static_cast<double>(lo);
  if (frac == 0 || v[lo] == v[hi]) return v[lo];  // also keeps infinities exact
  return v[lo] + frac * (v[hi] - v[lo]);
}

Interval PercentileInterval(double estimate, std::vector<double> samples) {
  Interval out;
  out.estimate = estimate;
  out.lower = Quantile(&samples, 0.025);
  out.upper = Quantile(&samples, 0.975);
  return out;
}

uint64_t ResampleSeed(uint64_t seed, int resample, uint64_t stream) {
  return SplitMix64(SplitMix64(seed ^ (stream * 0xd1b54a32d192ed03ULL)) +
                    static_cast<uint64_t>(resample));
}

std::vector<int> ResampleCounts(int n, uint64_t seed, int resample) {
  std::vector<int> counts(n, 0);
  if (n <= 0) return counts;
  std::mt19937_64 rng(ResampleSeed(seed, resample, /*stream=*/0));
  std::uniform_int_distribution<int> pick(0, n - 1);
  for (int i = 0; i < n; ++i) ++counts[pick(rng)];
  return counts;
}

std::vector<int> StratifiedResampleCounts(const std::vector<int>& stratum, uint64_t seed,
                                          int resample) {
  std::map<int, std::vector<int>> members;
  for (int i = 0; i < static_cast<int>(stratum.size()); ++i) members[stratum[i]].push_back(i);
  std::vector<int> counts(stratum.size(), 0);
  std::mt19937_64 rng(ResampleSeed(seed, resample, /*stream=*/0));
  for (const auto& [id, idx] : members) {
    std::uniform_int_distribution<int> pick(0, static_cast<int>(idx.size()) - 1);
    for (size_t k = 0; k < idx.size(); ++k) ++counts[idx[pick(rng)]];
  }
  return counts;
}

BootstrapOutcome RunBootstrap(int resamples, int threads,
                              const std::function<std::optional<std::vector<double>>(int)>& refit) {
  BootstrapOutcome outcome;
  outcome.requested = std::max(0, resamples);
  std::vector<std::optional<std::vector<double>>> results(outcome.requested);
  ParallelFor(outcome.requested, threads, [&](int k, int) { results[k] = refit(k); });
  for (std::optional<std::vector<double>>& r : results) {
    if (r.has_value()) {
      outcome.samples.push_back(std::move(*r));
    } else {
      ++outcome.failed;
    }
  }
  return outcome;
}

}  // namespace ladder::fit
