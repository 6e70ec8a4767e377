#include "server/fit/data_constrained_objective.h"

#include <cmath>

namespace ladder::fit {

Eigen::ArrayXd LogEffectiveTokens(const DataConstrainedRuns& runs, double rho) {
  const double r_star = std::exp(rho);
  return runs.log_unique + (r_star * (1.0 - (-runs.repeats / r_star).exp())).log1p();
}

DataConstrainedObjective::DataConstrainedObjective(const DataConstrainedRuns* runs, double delta)
    : runs_(runs), current_(runs->base), inner_(&current_, delta) {}

bool DataConstrainedObjective::Evaluate(const double* theta, double* cost, double* gradient) const {
  const double r_star = std::exp(theta[kThetaRho]);
  if (!std::isfinite(r_star) || !(r_star > 0)) return false;
  q_ = (-runs_->repeats / r_star).exp();
  g_ = r_star * (1.0 - q_);
  current_.log_tokens = runs_->log_unique + g_.log1p();
  if (!inner_.Evaluate(theta, cost, gradient)) return false;
  if (gradient != nullptr) {
    const Eigen::ArrayXd dy_drho = (r_star * (1.0 - q_) - runs_->repeats * q_) / (1.0 + g_);
    gradient[kThetaRho] = -theta[kThetaBeta] * (inner_.TokenTermSensitivity() * dy_drho).sum();
    if (!std::isfinite(gradient[kThetaRho])) return false;
  }
  return true;
}

}  // namespace ladder::fit
