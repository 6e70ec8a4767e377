// The Chinchilla Approach 3 objective (Hoffmann et al. 2022, sec. 3.3, eq. 3):
//
//   min over (a, b, e, alpha, beta) of
//     sum_i w_i Huber_delta( LSE(a - alpha log N_i, b - beta log D_i, e) - log L_i )
//
// with A = e^a, B = e^b, E = e^e, so that exp(LSE(...)) = E + A/N^alpha + B/D^beta
// is the law of eq. 2, and Huber_delta(r) = r^2/2 for |r| <= delta, else
// delta (|r| - delta/2); Chinchilla uses delta = 1e-3. The weights w_i are 1
// for a plain fit and the multiplicities of a bootstrap resample.
//
// Evaluation is vectorised over runs (Eigen arrays) with an analytic gradient:
// with softmax weights s_k = exp(z_k - LSE), dr/da = s_1, dr/dalpha = -s_1 log N,
// dr/db = s_2, dr/dbeta = -s_2 log D, dr/de = s_3, and Huber'(r) = clamp(r, -delta, delta).
//
// The data-constrained fit reuses it with log D' (Muennighoff et al. 2023) in
// place of log D.
#pragma once

#include <ceres/first_order_function.h>

#include <Eigen/Core>

namespace ladder::fit {

// Parameter order of theta everywhere in the Approach 3 code.
enum ChinchillaTheta { kThetaA = 0, kThetaAlpha = 1, kThetaB = 2, kThetaBeta = 3, kThetaE = 4 };
constexpr int kChinchillaThetaSize = 5;

// The runs of one fit in log space. Immutable once built; shared read-only
// by every thread.
struct LogSpaceRuns {
  Eigen::ArrayXd log_params;  // log N
  Eigen::ArrayXd log_tokens;  // log D (or log D')
  Eigen::ArrayXd log_loss;    // log L
  Eigen::ArrayXd weight;      // >= 0

  int size() const { return static_cast<int>(log_loss.size()); }
};

// Huber delta of Hoffmann et al. 2022 eq. 3.
constexpr double kChinchillaHuberDelta = 1e-3;

// Huber_delta(r) and its derivative (SCIENCE.md; Huber 1964).
double Huber(double r, double delta);

// The objective as a Ceres first-order function of theta (5 parameters).
// Not thread-safe (it owns scratch buffers): make one per thread or start.
// `runs` must outlive it.
class HuberLseObjective final : public ceres::FirstOrderFunction {
 public:
  HuberLseObjective(const LogSpaceRuns* runs, double delta);

  // cost = the weighted sum above; gradient (5 entries) may be null.
  // Returns false when the cost is not finite.
  bool Evaluate(const double* theta, double* cost, double* gradient) const override;
  int NumParameters() const override { return kChinchillaThetaSize; }

  // d cost / d z2_i, z2_i = b - beta log D_i, from the last Evaluate with a
  // gradient: lets a caller chain through a log D that depends on further
  // parameters (the data-constrained fit's R*_D).
  const Eigen::ArrayXd& TokenTermSensitivity() const { return dz2_; }

 private:
  const LogSpaceRuns* runs_;
  double delta_;
  // Scratch, reused across evaluations.
  mutable Eigen::ArrayXd z1_, z2_, m_, e1_, e2_, e3_, s_, r_, q_, dz2_;
};

}  // namespace ladder::fit
