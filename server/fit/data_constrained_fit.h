// Data-constrained scaling law (Muennighoff et al. 2023, "Scaling
// Data-Constrained Language Models", sec. 3.1): the Chinchilla form with D
// replaced by the effective data D' of U unique tokens seen for R = D/U - 1
// repeated epochs,
//   L(N, D, U) = E + A/N^alpha + B/D'^beta,  D' = U + U R*_D (1 - exp(-R/R*_D)),
// fitted with the Approach 3 objective (Huber delta 1e-3 on the log-sum-exp
// residual, data_constrained_objective.h) over (a, alpha, b, beta, e, log R*_D).
// The excess-parameter term (R*_N) is not fitted: N' = N.
//
// Two stages, all L-BFGS:
//  1. the full 4,500-point Approach 3 grid with R*_D held at
//     FitOptions::initial_r_star_d (Muennighoff et al.'s 15.39);
//  2. all six parameters from the stage-1 best distinct optima crossed with
//     FitOptions::r_star_d_starts, keeping the best.
// Refits (bootstrap over runs, holdout) start from the stage-2 distinct optima
// plus a few seeded grid points (FitOptions::warm_starts, extra_grid_starts).
//
// Runs with U = 0 or U >= D count as fresh data (D' = D). Needs the chinchilla
// fit's conditions (>= 8 runs, >= 3 distinct N and D) plus >= 3 runs that
// repeat data over >= 2 distinct repetition counts; else insufficient_data.
// Compute axis: 6ND (flops_count "6nd").
#pragma once

#include <vector>

#include "server/fit/fit_options.h"
#include "server/fit/fit_result.h"
#include "server/fit/observation.h"

namespace ladder::fit {

FitResult FitDataConstrained(const std::vector<Observation>& runs, const FitOptions& options);

}  // namespace ladder::fit
