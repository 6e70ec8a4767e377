#include "server/fit/huber_lse_objective.h"

#include <algorithm>
#include <cmath>

namespace ladder::fit {

double Huber(double r, double delta) {
  const double abs_r = std::abs(r);
  return abs_r <= delta ? 0.5 * r * r : delta * (abs_r - 0.5 * delta);
}

HuberLseObjective::HuberLseObjective(const LogSpaceRuns* runs, double delta)
    : runs_(runs), delta_(delta) {
  const int n = runs_->size();
  for (Eigen::ArrayXd* a : {&z1_, &z2_, &m_, &e1_, &e2_, &e3_, &s_, &r_, &q_, &dz2_}) a->resize(n);
}

bool HuberLseObjective::Evaluate(const double* theta, double* cost, double* gradient) const {
  const double a = theta[kThetaA], alpha = theta[kThetaAlpha];
  const double b = theta[kThetaB], beta = theta[kThetaBeta];
  const double e = theta[kThetaE];
  const Eigen::ArrayXd& x = runs_->log_params;
  const Eigen::ArrayXd& y = runs_->log_tokens;
  const Eigen::ArrayXd& w = runs_->weight;

  // LSE(z1, z2, e) with a maximum subtracted so no exp overflows. First try
  // one shift M for all runs (then exp(e - M) is a scalar); if some run's
  // terms all underflow (s = 0), fall back to a per-run maximum. Both give
  // the same LSE up to rounding.
  z1_ = a - alpha * x;
  z2_ = b - beta * y;
  const double shift = std::max({z1_.maxCoeff(), z2_.maxCoeff(), e});
  e1_ = (z1_ - shift).exp();
  e2_ = (z2_ - shift).exp();
  e3_.setConstant(std::exp(e - shift));
  s_ = e1_ + e2_ + e3_;
  if (std::isfinite(shift) && s_.minCoeff() > 1e-300) {
    r_ = shift + s_.log() - runs_->log_loss;
  } else {
    m_ = z1_.max(z2_).max(e);
    e1_ = (z1_ - m_).exp();
    e2_ = (z2_ - m_).exp();
    e3_ = (e - m_).exp();
    s_ = e1_ + e2_ + e3_;
    r_ = m_ + s_.log() - runs_->log_loss;
  }

  const double d = delta_;
  const double value =
      (w * (r_.abs() <= d).select(0.5 * r_.square(), d * (r_.abs() - 0.5 * d))).sum();
  if (!std::isfinite(value)) return false;
  *cost = value;
  if (gradient != nullptr) {
    // q_i = w_i Huber'(r_i) / s_i; dr_i/dz_k = e_k / s_i (softmax).
    q_ = w * r_.max(-d).min(d) / s_;
    dz2_ = q_ * e2_;
    gradient[kThetaA] = (q_ * e1_).sum();
    gradient[kThetaAlpha] = -(q_ * e1_ * x).sum();
    gradient[kThetaB] = dz2_.sum();
    gradient[kThetaBeta] = -(dz2_ * y).sum();
    gradient[kThetaE] = (q_ * e3_).sum();
  }
  return true;
}

}  // namespace ladder::fit
