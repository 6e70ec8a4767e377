// Chinchilla Approach 2, IsoFLOP profiles (Hoffmann et al. 2022, sec. 3.2):
// for each compute budget C, fit a parabola to final loss against log N over
// the sizes trained at that budget; its minimum gives N_opt(C). Then fit
//   log N_opt = log k_N + a log C,   log D_opt = log k_D + b log C
// by least squares over budgets. D_opt at a budget is the tokens of the
// parabola's minimum, interpolated linearly in (log N, log D) over that
// budget's runs (= C / (6 N_opt) when the budget is 6ND, as in Hoffmann et
// al.; also right when the sweep planned D from an exact FLOP count).
//
// Runs are grouped by Observation::budget (runs with budget 0 are ignored).
// A budget is used when it has >= 3 distinct sizes, an upward parabola
// (curvature > 0), and its minimum inside the sizes trained there (an
// extrapolated minimum is not a measurement); details.budgets says why each
// unused budget was left out. Needs >= 3 used budgets (insufficient_data).
//
// Compute axis: the budgets, in FitOptions::flops_count (which the caller
// states). Intervals: bootstrap over runs, resampled within each budget (a
// resample may regress over 2 budgets when others lose their minimum).
// Holdout: the relative error of N_opt at the largest budget predicted by the
// fit over the other budgets, against that budget's own parabola minimum.
#pragma once

#include <vector>

#include "server/fit/fit_options.h"
#include "server/fit/fit_result.h"
#include "server/fit/observation.h"

namespace ladder::fit {

FitResult FitIsoflop(const std::vector<Observation>& runs, const FitOptions& options);

// One budget's parabola (exposed for tests): loss = c0 + c1 x + c2 x^2 with
// x = log N, weighted by `weights` (multiplicities). ok is false when the
// budget cannot give a minimum; `problem` then says why.
struct IsoflopProfile {
  double budget = 0;
  int runs = 0;
  bool ok = false;
  std::string problem;
  double c0 = 0, c1 = 0, c2 = 0;
  double params_opt = 0;  // exp(-c1 / (2 c2))
  double tokens_opt = 0;
  double loss_opt = 0;  // the parabola at its minimum
};
IsoflopProfile FitIsoflopProfile(double budget, const std::vector<double>& params,
                                 const std::vector<double>& tokens,
                                 const std::vector<double>& losses,
                                 const std::vector<double>& weights);

}  // namespace ladder::fit
