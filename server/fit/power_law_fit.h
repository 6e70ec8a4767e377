// Power law with a floor on the compute-optimal frontier (SCIENCE.md "Power
// law with floor"; the per-family frontier fit of Gundlach et al. 2025, with
// E fitted here rather than fixed):
//
//   L(C) = E + A C^-alpha,  E >= 0,  alpha >= 0,
//
// fitted by least squares in log space, sum_i (log L(C_i) - log L_i)^2, over
// the frontier points (compute_frontier.h: lower envelope of final losses
// and, with FitOptions::frontier_uses_curves, of loss-curve points). Levenberg-Marquardt (Ceres)
// from a small grid of starts with C scaled by its geometric mean for
// conditioning; the best is kept.
//
// Compute axis: FitOptions::flops_count. Needs >= 4 frontier points
// (insufficient_data otherwise); alpha == 0 at the optimum is failed.
// Intervals: bootstrap over runs (a resampled run brings its curve along; a
// resample may refit from 3 frontier points, so small ladders get intervals).
// Holdout: fit without the largest-compute run (and its curve), predict its
// final loss.
#pragma once

#include <vector>

#include "server/fit/fit_options.h"
#include "server/fit/fit_result.h"
#include "server/fit/observation.h"

namespace ladder::fit {

FitResult FitPowerLawCompute(const std::vector<Observation>& runs, const FitOptions& options);

}  // namespace ladder::fit
