// L-BFGS from many starting points (Ceres' GradientProblemSolver), keeping
// every end point so callers can take the best and the next distinct local
// optima. Used by the Approach 3 grid (Hoffmann et al. 2022, sec. 3.3: "we use
// the L-BFGS algorithm ... from a grid of initialisations, keeping the best").
#pragma once

#include <ceres/first_order_function.h>

#include <functional>
#include <memory>
#include <vector>

namespace ladder::fit {

struct LbfgsOptions {
  int max_iterations = 1000;
  // Ceres' convergence tests: relative cost change, max-norm of the gradient,
  // relative step size.
  double function_tolerance = 1e-10;
  double gradient_tolerance = 1e-12;
  double parameter_tolerance = 1e-10;
};

// Where one start ended.
struct StartEnd {
  std::vector<double> x;   // the end point
  double cost = 0;         // +inf when the start never had a finite cost
  bool converged = false;  // Ceres reported CONVERGENCE (not max iterations / failure)
  int iterations = 0;
};

struct MultiStartResult {
  std::vector<StartEnd> ends;  // one per start, in start order
  int best = -1;               // index of the lowest finite cost (lowest index on ties); -1 if none
  int converged = 0;           // how many starts Ceres reported converged
};

// Runs L-BFGS from every start on up to `threads` threads. make_function()
// is called once per start (from worker threads) and must return a fresh
// function object. The result does not depend on `threads`. The first call
// raises glog's minimum level to ERROR process-wide (Ceres' line search logs
// harmless WARNINGs; nothing else in Ladder logs through glog).
MultiStartResult MinimizeFromStarts(
    const std::function<std::unique_ptr<ceres::FirstOrderFunction>()>& make_function,
    const std::vector<std::vector<double>>& starts, const LbfgsOptions& options, int threads);

// Up to `count` end points, best first, each differing from every earlier one
// by more than `tolerance` in some coordinate (a crude "distinct local optima").
std::vector<std::vector<double>> DistinctBestEnds(const MultiStartResult& result, int count,
                                                  double tolerance);

}  // namespace ladder::fit
