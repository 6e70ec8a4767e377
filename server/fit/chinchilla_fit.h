// Chinchilla Approach 3 (Hoffmann et al. 2022, sec. 3.3): fit
// L(N, D) = E + A/N^alpha + B/D^beta to one family's runs by minimising the
// Huber (delta 1e-3) loss of the log-sum-exp residual in log space (eq. 3,
// huber_lse_objective.h) with L-BFGS from all 4,500 points of the grid of
// starts (approach3.h), keeping the best; parallel over starts.
//
// Compute axis: C = 6ND (flops_count "6nd"), the identity behind the
// compute-optimal allocation N_opt(C), D_opt(C) of eq. 4 (scaling_laws.h).
//
// Intervals: bootstrap over runs (bootstrap.h). Each resample refits from the
// full-data fit's best distinct optima plus a few seeded grid points
// (FitOptions::warm_starts, extra_grid_starts), or the whole grid with
// FitOptions::full_grid_refits; bench/fit's coverage study checks the
// intervals this gives.
//
// Needs >= 8 runs with >= 3 distinct N and >= 3 distinct D, and log N and
// log D not collinear (a ladder at one tokens-per-parameter ratio cannot
// separate the N and D terms): otherwise status insufficient_data. A best
// fit with alpha <= 0 or beta <= 0 is status failed.
//
// Thread-safe; uses up to FitOptions::threads threads.
#pragma once

#include <vector>

#include "server/fit/fit_options.h"
#include "server/fit/fit_result.h"
#include "server/fit/observation.h"

namespace ladder::fit {

FitResult FitChinchilla(const std::vector<Observation>& runs, const FitOptions& options);

}  // namespace ladder::fit
