// Predictions with intervals from a fit, for the coordinator's PredictLoss and
// OptimalAllocation RPCs. No refitting: the estimate evaluates the fit's law
// (FitResult::law), the 95% interval evaluates every bootstrap sample
// (FitResult::law_samples) and takes the 2.5%/97.5% quantiles. A call costs
// O(samples) closed-form evaluations, plus 128 x samples erfc for the one-run
// interval (about a millisecond for 200 samples).
// Thread-safe (pure functions of a const FitResult).
//
// Errors (absl status codes, mapped to gRPC by the caller):
//   INVALID_ARGUMENT     a non-positive or non-finite input (message names it)
//   FAILED_PRECONDITION  the fit is not ok, or its form cannot answer this
//                        question (message says which form can)
#pragma once

#include "absl/status/statusor.h"
#include "server/fit/fit_result.h"

namespace ladder::fit {

struct LossPrediction {
  // The law's loss at the target: estimate and the 95% interval of the law
  // itself (bootstrap samples), i.e. where the mean over many seeds would be.
  Interval loss;
  // Where ONE run's measured loss is expected (95%): each bootstrap law's
  // value scattered by the fit's residual noise in log loss (RunNoise). Wider
  // than `loss`; this is what a held-out run, or a backtest, checks against.
  // Equal to `loss` when the fit has no residual estimate.
  Interval run_loss;
  // Requested scale / largest trained scale: N*D over the largest trained
  // N*D for PredictLoss, C over max_trained_flops for PredictLossAtCompute.
  double extrapolation_factor = 0;
};

// The standard deviation of one run's log loss around the law, from the fit's
// residuals: rmse_log_loss * sqrt(n / (n - p)) with n the points fitted and p
// the law's free parameters (n - p at least 1). NaN when the fit has none.
double RunNoise(const FitResult& fit);

// Loss of N params trained on D tokens (U unique; 0 = all fresh).
// chinchilla: E + A/N^alpha + B/D^beta (U ignored: the form assumes fresh data).
// data_constrained: D replaced by D'(U) (Muennighoff et al. 2023).
absl::StatusOr<LossPrediction> PredictLoss(const FitResult& fit, double params, double tokens,
                                           double unique_tokens = 0);

// Loss at compute C (in the fit's flops_count).
// power_law_compute: E + A C^-alpha.
// chinchilla: the loss at the compute-optimal allocation under C = 6ND
// (scaling_laws.h ComputeOptimalFrontier).
absl::StatusOr<LossPrediction> PredictLossAtCompute(const FitResult& fit, double compute);

struct AllocationPrediction {
  Interval params;  // N_opt(C)
  Interval tokens;  // D_opt(C)
  Interval loss;    // loss there; all NaN for isoflop fits (Approach 2 gives no loss law)
  double tokens_per_param = 0;      // D_opt / N_opt of the estimates
  double extrapolation_factor = 0;  // C / max_trained_flops
};

// Compute-optimal N and D at compute C.
// chinchilla: Hoffmann et al. 2022 eq. 4 (C = 6ND).
// isoflop: N_opt = k_N C^a, D_opt = k_D C^b (Approach 2, C in the budgets' count).
absl::StatusOr<AllocationPrediction> PredictOptimalAllocation(const FitResult& fit, double compute);

}  // namespace ladder::fit
