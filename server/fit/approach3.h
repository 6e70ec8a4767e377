// The machinery of Chinchilla Approach 3 (Hoffmann et al. 2022, sec. 3.3 and
// appendix D.2), shared by the chinchilla and data_constrained fits: the
// grid of starts, theta <-> law, the multi-start L-BFGS solve of the Huber
// objective (huber_lse_objective.h), and the starts of a refit.
#pragma once

#include <cstdint>
#include <optional>
#include <vector>

#include "server/fit/fit_options.h"
#include "server/fit/huber_lse_objective.h"
#include "server/fit/scaling_laws.h"

namespace ladder::fit {

// The grid of SCIENCE.md / Hoffmann et al. 2022 app. D.2: alpha, beta in
// {0, 0.5, ..., 2}, e in {-1, -0.5, ..., 1}, a, b in {0, 5, ..., 25}:
// 5 * 5 * 5 * 6 * 6 = 4,500 theta vectors (layout of ChinchillaTheta).
const std::vector<std::vector<double>>& Approach3StartGrid();

// theta = (a, alpha, b, beta, e) <-> E = e^e, A = e^a, B = e^b.
ChinchillaLaw LawFromTheta(const std::vector<double>& theta);
std::vector<double> ThetaFromLaw(const ChinchillaLaw& law);

// Log-space runs with multiplicities: run i enters with weight counts[i]
// (runs with count 0 are left out); empty counts = every run once.
LogSpaceRuns MakeLogSpaceRuns(const std::vector<double>& log_params,
                              const std::vector<double>& log_tokens,
                              const std::vector<double>& log_loss,
                              const std::vector<int>& counts = {});

struct Approach3Solution {
  std::vector<double> theta;  // best end point
  double cost = 0;            // its objective
  int starts = 0;
  int converged = 0;  // starts Ceres reported converged
  // Up to `keep_distinct` distinct end points, best first (theta first).
  std::vector<std::vector<double>> distinct_optima;
};

// L-BFGS from every start on `threads` threads; the lowest objective wins
// (lowest start index on ties, so the answer does not depend on threads).
// nullopt when no start reached a finite objective.
std::optional<Approach3Solution> SolveApproach3(const LogSpaceRuns& runs,
                                                const std::vector<std::vector<double>>& starts,
                                                const FitOptions& options, int threads,
                                                int keep_distinct = 1);

// The full-data solve of a fit: every grid start on `runs`; or, above
// options.max_grid_runs runs, every grid start on a seeded random
// options.max_grid_runs of them (a screen) and then L-BFGS on all `runs`
// from the screen's best options.screen_optima distinct optima. Reports the
// grid's start count in `starts` and the runs it saw in `*grid_runs`.
std::optional<Approach3Solution> SolveApproach3Grid(const LogSpaceRuns& runs,
                                                    const std::vector<std::vector<double>>& grid,
                                                    const FitOptions& options, int keep_distinct,
                                                    int* grid_runs);

// Starts of a refit (a bootstrap resample, the holdout fit): the full-data
// fit's distinct optima `warm` plus `extra` points of `grid` drawn without
// replacement with `seed`.
std::vector<std::vector<double>> RefitStarts(const std::vector<std::vector<double>>& warm,
                                             const std::vector<std::vector<double>>& grid,
                                             int extra, uint64_t seed);

}  // namespace ladder::fit
