#include "server/fit/prediction.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "server/fit/law_vector.h"

namespace ladder::fit {
namespace {

// A chinchilla fit by hand: the law and 101 samples whose E runs 1.6 .. 1.8.
FitResult HandChinchilla() {
  FitResult fit;
  fit.form = FitForm::kChinchilla;
  fit.status = FitStatus::kOk;
  fit.flops_count = FlopsCount::kSixND;
  const ChinchillaLaw law{1.7, 400.0, 0.34, 410.0, 0.28};
  fit.law = ToVector(law);
  for (int k = 0; k <= 100; ++k) {
    ChinchillaLaw s = law;
    s.E = 1.6 + 0.002 * k;
    fit.law_samples.push_back(ToVector(s));
  }
  fit.max_trained_flops = 1e20;
  fit.min_trained_flops = 1e17;
  fit.max_trained_params_tokens = 1e20 / 6;
  return fit;
}

TEST(PredictionTest, LossAtParamsAndTokensHasBootstrapInterval) {
  const FitResult fit = HandChinchilla();
  const absl::StatusOr<LossPrediction> p = PredictLoss(fit, 1e9, 2e10);
  ASSERT_TRUE(p.ok()) << p.status();
  const double reducible = 400.0 * std::pow(1e9, -0.34) + 410.0 * std::pow(2e10, -0.28);
  EXPECT_DOUBLE_EQ(p->loss.estimate, 1.7 + reducible);
  // 2.5% and 97.5% quantiles of E over 1.6..1.8 in 101 steps: 1.605 and 1.795.
  EXPECT_NEAR(p->loss.lower, 1.605 + reducible, 1e-12);
  EXPECT_NEAR(p->loss.upper, 1.795 + reducible, 1e-12);
  EXPECT_NEAR(p->extrapolation_factor, 1e9 * 2e10 / (1e20 / 6), 1e-9);
}

// The one-run interval adds the fit's residual scatter to the law's: with
// rmse 0.01 on 20 runs (p = 5: sigma = 0.01 sqrt(20/15)) it is wider than the
// law's on both sides, keeps the estimate, and without residuals is the law's.
TEST(PredictionTest, RunIntervalAddsTheResidualScatterToTheLawsInterval) {
  FitResult fit = HandChinchilla();
  const absl::StatusOr<LossPrediction> bare = PredictLoss(fit, 1e9, 2e10);
  ASSERT_TRUE(bare.ok());
  EXPECT_EQ(bare->run_loss.lower, bare->loss.lower);  // no rmse: the law's interval
  EXPECT_EQ(bare->run_loss.upper, bare->loss.upper);
  fit.rmse_log_loss = 0.01;
  fit.runs_used = 20;
  EXPECT_NEAR(RunNoise(fit), 0.01 * std::sqrt(20.0 / 15.0), 1e-15);
  const absl::StatusOr<LossPrediction> p = PredictLoss(fit, 1e9, 2e10);
  ASSERT_TRUE(p.ok());
  EXPECT_EQ(p->run_loss.estimate, p->loss.estimate);
  EXPECT_LT(p->run_loss.lower, p->loss.lower);
  EXPECT_GT(p->run_loss.upper, p->loss.upper);
  // The scatter alone (every sample at the estimate) would give about
  // exp(+-1.96 sigma); with the law's spread on top the interval is wider.
  const double sigma = RunNoise(fit);
  EXPECT_GT(p->run_loss.upper / p->loss.estimate, std::exp(1.5 * sigma));
  EXPECT_LT(p->run_loss.upper / p->loss.upper, std::exp(2.5 * sigma));
}

// With no law spread (no bootstrap samples, or every sample the point law)
// the one-run interval is the run noise alone: exactly exp(+-1.96 sigma)
// around the estimate, not narrower (a fixed grid of noise quantiles cut the
// tails to 1.79 sigma, a 93% interval).
TEST(PredictionTest, RunIntervalWithoutLawSpreadIsTheNoisesOwn95PercentInterval) {
  FitResult fit = HandChinchilla();
  fit.rmse_log_loss = 0.01;
  fit.runs_used = 20;
  const double sigma = RunNoise(fit);
  const double z = 1.959963984540054;  // the normal's 97.5% point
  for (const bool samples_at_the_law : {false, true}) {
    fit.law_samples.assign(samples_at_the_law ? 50 : 0, fit.law);
    const absl::StatusOr<LossPrediction> p = PredictLoss(fit, 1e9, 2e10);
    ASSERT_TRUE(p.ok()) << p.status();
    const double estimate = p->loss.estimate;
    EXPECT_NEAR(p->run_loss.lower / estimate, std::exp(-z * sigma), 1e-12) << samples_at_the_law;
    EXPECT_NEAR(p->run_loss.upper / estimate, std::exp(z * sigma), 1e-12) << samples_at_the_law;
  }
}

// With a law spread much wider than the noise, the one-run interval is the
// law's (the noise adds next to nothing), and a law sample with no finite
// loss is left out rather than poisoning the interval.
TEST(PredictionTest, RunIntervalFollowsAWideLawSpreadAndSkipsNonFiniteSamples) {
  FitResult fit = HandChinchilla();  // E over 1.6..1.8: log spread ~0.03
  fit.rmse_log_loss = 1e-5;
  fit.runs_used = 20;
  const absl::StatusOr<LossPrediction> clean = PredictLoss(fit, 1e9, 2e10);
  ASSERT_TRUE(clean.ok());
  EXPECT_NEAR(clean->run_loss.lower, clean->loss.lower, 2e-3);
  EXPECT_NEAR(clean->run_loss.upper, clean->loss.upper, 2e-3);
  ChinchillaLaw broken = ChinchillaFromVector(fit.law);
  broken.E = std::numeric_limits<double>::quiet_NaN();
  fit.law_samples.push_back(ToVector(broken));
  const absl::StatusOr<LossPrediction> p = PredictLoss(fit, 1e9, 2e10);
  ASSERT_TRUE(p.ok());
  EXPECT_TRUE(std::isfinite(p->run_loss.lower));
  EXPECT_TRUE(std::isfinite(p->run_loss.upper));
  EXPECT_NEAR(p->run_loss.lower, clean->run_loss.lower, 2e-3);
  EXPECT_NEAR(p->run_loss.upper, clean->run_loss.upper, 2e-3);
}

TEST(PredictionTest, LossAtComputeFollowsTheComputeOptimalFrontier) {
  const FitResult fit = HandChinchilla();
  const absl::StatusOr<LossPrediction> p = PredictLossAtCompute(fit, 1e22);
  ASSERT_TRUE(p.ok());
  EXPECT_DOUBLE_EQ(p->loss.estimate,
                   ComputeOptimalAllocation(ChinchillaFromVector(fit.law), 1e22).loss);
  EXPECT_NEAR(p->extrapolation_factor, 100.0, 1e-12);
}

TEST(PredictionTest, OptimalAllocationOfChinchillaFit) {
  const FitResult fit = HandChinchilla();
  const absl::StatusOr<AllocationPrediction> p = PredictOptimalAllocation(fit, 1e22);
  ASSERT_TRUE(p.ok());
  const Allocation a = ComputeOptimalAllocation(ChinchillaFromVector(fit.law), 1e22);
  EXPECT_DOUBLE_EQ(p->params.estimate, a.params);
  EXPECT_DOUBLE_EQ(p->tokens.estimate, a.tokens);
  EXPECT_DOUBLE_EQ(p->tokens_per_param, a.tokens / a.params);
  // The samples differ only in E, which does not move the allocation.
  EXPECT_NEAR(p->params.lower, a.params, 1e-6 * a.params);
  EXPECT_LT(p->loss.lower, p->loss.upper);
}

TEST(PredictionTest, OptimalAllocationOfIsoflopFit) {
  FitResult fit;
  fit.form = FitForm::kIsoflop;
  fit.status = FitStatus::kOk;
  fit.law = ToVector(AllocationLaw{0.5, std::log(0.1), 0.5, std::log(1.6)});
  fit.max_trained_flops = 1e20;
  const absl::StatusOr<AllocationPrediction> p = PredictOptimalAllocation(fit, 1e20);
  ASSERT_TRUE(p.ok());
  EXPECT_NEAR(p->params.estimate, 1e9, 1e-3);
  EXPECT_NEAR(p->tokens_per_param, 16.0, 1e-9);
  EXPECT_TRUE(std::isnan(p->loss.estimate));
  EXPECT_TRUE(std::isnan(p->params.lower));  // no samples, no interval
}

TEST(PredictionTest, WrongFormIsFailedPrecondition) {
  FitResult fit;
  fit.form = FitForm::kPowerLawCompute;
  fit.status = FitStatus::kOk;
  fit.law = {1.8, 50.0, 0.1};
  fit.max_trained_flops = 1e19;
  EXPECT_TRUE(PredictLossAtCompute(fit, 1e21).ok());
  const absl::StatusOr<LossPrediction> p = PredictLoss(fit, 1e9, 1e10);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("use chinchilla or data_constrained"), std::string::npos);
  EXPECT_EQ(PredictOptimalAllocation(fit, 1e21).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

TEST(PredictionTest, FitThatIsNotOkIsFailedPrecondition) {
  FitResult fit = HandChinchilla();
  fit.status = FitStatus::kInsufficientData;
  fit.reason = "3 usable runs";
  const absl::StatusOr<LossPrediction> p = PredictLoss(fit, 1e9, 1e10);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_NE(p.status().message().find("insufficient_data: 3 usable runs"), std::string::npos);
}

TEST(PredictionTest, BadInputIsInvalidArgumentNamingTheField) {
  const FitResult fit = HandChinchilla();
  const absl::StatusOr<LossPrediction> p = PredictLoss(fit, -1, 1e10);
  EXPECT_EQ(p.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(p.status().message().find("params"), std::string::npos);
  EXPECT_EQ(PredictLossAtCompute(fit, std::nan("")).status().code(),
            absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(PredictOptimalAllocation(fit, 0).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ladder::fit
