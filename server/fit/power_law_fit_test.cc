#include "server/fit/power_law_fit.h"

#include <gtest/gtest.h>

#include <cmath>

#include "server/fit/prediction.h"
#include "server/fit/simulated_observations.h"

namespace ladder::fit {
namespace {

const PowerLawInCompute kTruth{1.8, 50.0, 0.1};

FitOptions Options(int resamples = 200) {
  FitOptions options;
  options.threads = 2;
  options.bootstrap_resamples = resamples;
  return options;
}

// 20 runs, 1% noise. Over 100 seeds (bench/fit) the 95th percentiles of the
// errors are about 0.04 in alpha and 5% in the loss at 100x: a 3-parameter
// law extrapolated from 4 decades of noisy final losses is that uncertain,
// and the bootstrap interval says so (it covers the truth in ~92 of 100).
TEST(PowerLawFitTest, RecoversPowerLawInComputeFromFinalLosses) {
  const std::vector<Observation> runs =
      SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 20), 0.01, 11);
  const FitResult fit = FitPowerLawCompute(runs, Options());
  ASSERT_TRUE(fit.ok()) << fit.reason;
  EXPECT_EQ(fit.flops_count, FlopsCount::kExact);
  const FitParameter* alpha = fit.FindParameter("alpha");
  EXPECT_NEAR(alpha->value.estimate, kTruth.alpha, 0.04);
  EXPECT_LT(alpha->value.lower, kTruth.alpha);
  EXPECT_GT(alpha->value.upper, kTruth.alpha);
  const double c = 100 * fit.max_trained_flops;
  const absl::StatusOr<LossPrediction> p = PredictLossAtCompute(fit, c);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_NEAR(p->loss.estimate / kTruth.Loss(c), 1.0, 0.05);
  EXPECT_LT(p->loss.lower, kTruth.Loss(c));
  EXPECT_GT(p->loss.upper, kTruth.Loss(c));
  EXPECT_GE(fit.details["frontier_points"].get<int>(), 4);
  EXPECT_FALSE(std::isnan(fit.holdout_relative_error));
}

TEST(PowerLawFitTest, NoiselessFrontierIsRecoveredExactly) {
  const std::vector<Observation> runs =
      SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 12), 0.0, 1);
  const FitResult fit = FitPowerLawCompute(runs, Options(0));
  ASSERT_TRUE(fit.ok()) << fit.reason;
  EXPECT_NEAR(fit.FindParameter("alpha")->value.estimate, kTruth.alpha, 1e-5);
  EXPECT_NEAR(fit.FindParameter("E")->value.estimate, kTruth.E, 1e-4);
  EXPECT_NEAR(fit.FindParameter("A")->value.estimate / kTruth.A, 1.0, 1e-3);
  EXPECT_LT(fit.rmse_log_loss, 1e-8);
}

TEST(PowerLawFitTest, LossCurvesExtendTheFrontier) {
  // Few runs, but their curves trace the law at many computes.
  const std::vector<Observation> runs =
      SimulatePowerLawRuns(kTruth, LogSpaced(1e16, 1e19, 4), 0.0, 1, /*curve_points=*/20,
                           /*curve_gap=*/0.0);
  FitOptions options = Options(0);
  options.frontier_uses_curves = false;
  EXPECT_EQ(FitPowerLawCompute(runs, options).details["frontier_points"], 4);
  options.frontier_uses_curves = true;
  const FitResult fit = FitPowerLawCompute(runs, options);
  ASSERT_TRUE(fit.ok()) << fit.reason;
  EXPECT_GT(fit.details["frontier_points"].get<int>(), 20);
  EXPECT_NEAR(fit.FindParameter("alpha")->value.estimate, kTruth.alpha, 1e-4);
}

TEST(PowerLawFitTest, SmallLadderGetsIntervals) {
  // Six runs, as a small CPU ladder: most resamples repeat runs.
  const std::vector<Observation> runs =
      SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e18, 6), 0.01, 2);
  const FitResult fit = FitPowerLawCompute(runs, Options());
  ASSERT_TRUE(fit.ok()) << fit.reason;
  EXPECT_GE(fit.bootstrap_resamples, 150);
  const Interval alpha = fit.FindParameter("alpha")->value;
  EXPECT_LT(alpha.lower, alpha.upper);
}

TEST(PowerLawFitTest, TooFewFrontierPointsIsInsufficientData) {
  const std::vector<Observation> runs =
      SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 3), 0.01, 1);
  const FitResult fit = FitPowerLawCompute(runs, Options());
  EXPECT_EQ(fit.status, FitStatus::kInsufficientData);
  EXPECT_NE(fit.reason.find("3 points on the compute frontier"), std::string::npos) << fit.reason;
}

TEST(PowerLawFitTest, LossRisingWithComputeIsInsufficientData) {
  std::vector<Observation> runs = SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 8), 0.0, 1);
  // The frontier is then the single cheapest run.
  for (size_t i = 0; i < runs.size(); ++i) runs[i].loss = 3.0 + 0.1 * i;
  const FitResult fit = FitPowerLawCompute(runs, Options());
  EXPECT_EQ(fit.status, FitStatus::kInsufficientData);
  EXPECT_NE(fit.reason.find("1 points on the compute frontier"), std::string::npos) << fit.reason;
}

TEST(PowerLawFitTest, SixNDCountUsesSixNDFlops) {
  std::vector<Observation> runs = SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 8), 0.0, 1);
  for (Observation& r : runs) {
    r.flops_6nd = r.flops;
    r.flops *= 1.3;  // exact counts 30% above 6ND
  }
  FitOptions options = Options(0);
  options.flops_count = FlopsCount::kSixND;
  const FitResult fit = FitPowerLawCompute(runs, options);
  ASSERT_TRUE(fit.ok());
  EXPECT_EQ(fit.flops_count, FlopsCount::kSixND);
  EXPECT_DOUBLE_EQ(fit.max_trained_flops, runs.back().flops_6nd);
  EXPECT_NEAR(fit.FindParameter("A")->value.estimate / kTruth.A, 1.0, 1e-3);
}

}  // namespace
}  // namespace ladder::fit
