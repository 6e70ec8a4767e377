// The Approach 3 objective (huber_lse_objective.h) for the data-constrained
// law of Muennighoff et al. 2023 (sec. 3.1): log D is replaced by log D' with
//   D' = U + U R*_D (1 - exp(-R / R*_D)),  R = D/U - 1,
// and R*_D = exp(rho) becomes a sixth parameter: theta = (a, alpha, b, beta,
// e, rho). Analytic gradient: with q = exp(-R/R*_D) and g = R*_D (1 - q),
//   d log D' / d rho = (R*_D (1 - q) - R q) / (1 + g),
// chained through d cost / d z2 = -beta * (that).
#pragma once

#include <ceres/first_order_function.h>

#include <Eigen/Core>

#include "server/fit/huber_lse_objective.h"

namespace ladder::fit {

constexpr int kThetaRho = 5;
constexpr int kDataConstrainedThetaSize = 6;

// Runs in log space for the data-constrained objective. `base.log_tokens` is
// ignored (recomputed from rho at each evaluation).
struct DataConstrainedRuns {
  LogSpaceRuns base;
  Eigen::ArrayXd log_unique;  // log U; log D for a run without repetition
  Eigen::ArrayXd repeats;     // R = D/U - 1 >= 0; 0 without repetition

  int size() const { return base.size(); }
};

// log D' for every run at R*_D = exp(rho).
Eigen::ArrayXd LogEffectiveTokens(const DataConstrainedRuns& runs, double rho);

// Not thread-safe (scratch buffers); `runs` must outlive it.
class DataConstrainedObjective final : public ceres::FirstOrderFunction {
 public:
  DataConstrainedObjective(const DataConstrainedRuns* runs, double delta);

  bool Evaluate(const double* theta, double* cost, double* gradient) const override;
  int NumParameters() const override { return kDataConstrainedThetaSize; }

 private:
  const DataConstrainedRuns* runs_;
  mutable LogSpaceRuns current_;  // base with log_tokens = log D'(rho)
  HuberLseObjective inner_;
  mutable Eigen::ArrayXd q_, g_;
};

}  // namespace ladder::fit
