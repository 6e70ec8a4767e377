// Least squares of L_f(C) = E + A_f C^-alpha_f on the compute frontiers of
// one or several families sharing E: the solver behind power_law_compute
// (one family; power_law_fit.h) and power_law_shared_e (several;
// shared_e_fit.h), so both fit the same objective from the same starts.
//
// Residuals are in log space, log(E + exp(k_f - alpha_f x)) - log L, with
// x = log(C / C_ref_f) and C_ref_f the geometric mean of family f's frontier
// compute (conditioning); E >= 0, 0 <= alpha_f <= 10. Levenberg-Marquardt
// (Ceres) from a grid of starts; the lowest cost wins (the first on ties).
#pragma once

#include <optional>
#include <vector>

#include "server/fit/compute_frontier.h"
#include "server/fit/scaling_laws.h"

namespace ladder::fit {

struct FrontierLawSolution {
  // One law per family, in the order of the frontiers given; all share E.
  std::vector<PowerLawInCompute> laws;
  double cost = 0;  // half the sum of squared log residuals (Ceres' cost)
};

// Fits the laws to `frontiers` (one per family, each non-empty). Starts: E
// at {0, 0.5, 0.8, 0.95} x the lowest frontier loss of all families, each
// with every alpha of {0.02, 0.05, 0.1, 0.2, 0.4, 0.8} for all families and,
// with several families, with each family's own best alpha of that list;
// k_f from the mean of log(L - E) + alpha x. `extra_start` (one law per
// family, e.g. the full-data fit for a refit), when given, is tried first.
// nullopt when no start converged to a finite law.
std::optional<FrontierLawSolution> SolveFrontierLaws(
    const std::vector<std::vector<FrontierPoint>>& frontiers,
    const std::vector<PowerLawInCompute>& extra_start = {});

// log L(C) - log L of every point of `frontier` under `law`.
std::vector<double> FrontierLogResiduals(const PowerLawInCompute& law,
                                         const std::vector<FrontierPoint>& frontier);

// How many distinct runs the points of `frontier` come from.
int FrontierRuns(const std::vector<FrontierPoint>& frontier);

}  // namespace ladder::fit
