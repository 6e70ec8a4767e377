// Small helpers shared by the fit implementations (not part of the API).
#pragma once

#include <chrono>
#include <cmath>
#include <functional>
#include <optional>
#include <sstream>
#include <string>
#include <vector>

#include "server/fit/bootstrap.h"
#include "server/fit/fit_options.h"
#include "server/fit/fit_result.h"
#include "server/fit/usable_runs.h"

namespace ladder::fit::internal {

class Stopwatch {
 public:
  double Seconds() const {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  }

 private:
  std::chrono::steady_clock::time_point start_ = std::chrono::steady_clock::now();
};

// A number as text for reasons ("-0.12", "1e+20").
inline std::string Describe(double v) {
  std::ostringstream s;
  s << v;
  return s.str();
}

// Sets status and reason and returns the result (for `return Fail(...)`).
inline FitResult Finish(FitResult result, FitStatus status, std::string reason,
                        const Stopwatch& clock) {
  result.status = status;
  result.reason = std::move(reason);
  result.fit_seconds = clock.Seconds();
  return result;
}

// Records the validation outcome in `result` (family, dropped runs, runs used).
inline void RecordUsable(const UsableRuns& usable, FitResult* result) {
  result->family = usable.family;
  result->runs_used = static_cast<int>(usable.runs.size());
  result->details["runs_dropped"] = usable.dropped;
  if (!usable.dropped_reason.empty())
    result->details["runs_dropped_reason"] = usable.dropped_reason;
}

// Applies options.max_fit_runs to `usable` (Approach 3 fits) and records it.
inline void CapRuns(const FitOptions& options, UsableRuns* usable, FitResult* result) {
  const int n = SubsampleRuns(options.max_fit_runs, ResampleSeed(options.seed, -3, 2), usable);
  if (n == static_cast<int>(usable->runs.size())) return;
  result->runs_used = static_cast<int>(usable->runs.size());
  result->details["runs_subsampled_from"] = n;
}

// Widens the trained range of `result` (min/max compute, max N*D) by one run.
inline void RecordScale(double compute, double params_tokens, FitResult* result) {
  auto widen = [](double* bound, double v, bool larger) {
    if (std::isnan(*bound) || (larger ? v > *bound : v < *bound)) *bound = v;
  };
  widen(&result->max_trained_flops, compute, true);
  widen(&result->min_trained_flops, compute, false);
  widen(&result->max_trained_params_tokens, params_tokens, true);
}

// Index of the run with the largest compute under `count` (first on ties).
inline int LargestComputeRun(const std::vector<Observation>& runs, FlopsCount count) {
  int best = -1;
  for (int i = 0; i < static_cast<int>(runs.size()); ++i) {
    if (best < 0 || ComputeOf(runs[i], count) > ComputeOf(runs[best], count)) best = i;
  }
  return best;
}

// Applies the bootstrap outcome to `result`; returns a failure reason when
// too few resamples converged (empty when fine).
inline std::string AcceptBootstrap(BootstrapOutcome outcome, const FitOptions& options,
                                   FitResult* result) {
  result->bootstrap_resamples = static_cast<int>(outcome.samples.size());
  result->details["bootstrap_requested"] = outcome.requested;
  result->details["bootstrap_failed"] = outcome.failed;
  result->law_samples = std::move(outcome.samples);
  if (outcome.requested > 0 &&
      result->bootstrap_resamples < options.min_bootstrap_success * outcome.requested) {
    return "bootstrap: only " + std::to_string(result->bootstrap_resamples) + " of " +
           std::to_string(outcome.requested) + " resamples converged";
  }
  return "";
}

// The reason a fit of `form` cannot run on `n` usable runs when it needs
// `min_runs` ("5 usable runs (dropped ...); chinchilla needs at least 8").
inline std::string TooFewRunsReason(int n, const std::string& dropped_reason, const char* form,
                                    int min_runs) {
  std::string why = std::to_string(n) + " usable runs";
  if (!dropped_reason.empty()) why += " (dropped " + dropped_reason + ")";
  return why + "; " + form + " needs at least " + std::to_string(min_runs);
}

// Why runs with these N and D cannot separate the two terms of a law in N
// and D: fewer than `min_distinct` distinct values of either; empty when
// they can.
inline std::string TooFewDistinctReason(const std::vector<double>& params,
                                        const std::vector<double>& tokens, const char* form,
                                        int min_distinct) {
  const int distinct_n = CountDistinct(params), distinct_d = CountDistinct(tokens);
  if (distinct_n >= min_distinct && distinct_d >= min_distinct) return "";
  return std::to_string(distinct_n) + " distinct sizes N and " + std::to_string(distinct_d) +
         " distinct token counts D; " + form + " needs at least " + std::to_string(min_distinct) +
         " of each";
}

// The holdout check: `predict(counts, held)` refits on the runs weighted by
// `counts` (the run of largest compute under `count`, `held`, left out) and returns that run's
// predicted loss, or nullopt when the refit failed (then nothing is
// recorded). Records the relative error and details["holdout"].
inline void RecordHoldout(
    const std::vector<Observation>& runs, FlopsCount count,
    const std::function<std::optional<double>(const std::vector<int>& counts, int held)>& predict,
    FitResult* result) {
  const int held = LargestComputeRun(runs, count);
  std::vector<int> counts(runs.size(), 1);
  counts[held] = 0;
  const std::optional<double> predicted = predict(counts, held);
  if (!predicted) return;
  result->holdout_relative_error = (*predicted - runs[held].loss) / runs[held].loss;
  result->details["holdout"] = {{"run_id", runs[held].run_id},
                                {"predicted_loss", *predicted},
                                {"actual_loss", runs[held].loss}};
}

inline double Rmse(const std::vector<double>& residuals) {
  if (residuals.empty()) return std::nan("");
  double s = 0;
  for (double r : residuals) s += r * r;
  return std::sqrt(s / residuals.size());
}

}  // namespace ladder::fit::internal
