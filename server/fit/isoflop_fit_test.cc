#include "server/fit/isoflop_fit.h"

#include <gtest/gtest.h>

#include <cmath>

#include "server/fit/prediction.h"
#include "server/fit/simulated_observations.h"

namespace ladder::fit {
namespace {

FitOptions Options(int resamples = 200) {
  FitOptions options;
  options.threads = 2;
  options.bootstrap_resamples = resamples;
  options.flops_count = FlopsCount::kSixND;  // the simulated budgets are 6ND
  return options;
}

TEST(IsoflopProfileTest, FindsTheMinimumOfAParabolaInLogN) {
  // L = 2 + 0.05 (log N - log 3e8)^2, sizes around the minimum.
  std::vector<double> n, d, l, w;
  for (double size : LogSpaced(1e8, 1e9, 7)) {
    n.push_back(size);
    d.push_back(1e20 / (6 * size));
    l.push_back(2.0 + 0.05 * std::pow(std::log(size / 3e8), 2));
    w.push_back(1.0);
  }
  const IsoflopProfile p = FitIsoflopProfile(1e20, n, d, l, w);
  ASSERT_TRUE(p.ok) << p.problem;
  EXPECT_NEAR(p.params_opt / 3e8, 1.0, 1e-9);
  EXPECT_NEAR(p.tokens_opt / (1e20 / (6 * 3e8)), 1.0, 1e-9);  // C / (6 N_opt)
  EXPECT_NEAR(p.loss_opt, 2.0, 1e-12);
  EXPECT_NEAR(p.c2, 0.05, 1e-12);
}

TEST(IsoflopProfileTest, RefusesAMinimumOutsideTheSizesTrained) {
  std::vector<double> n, d, l, w;
  for (double size : LogSpaced(1e8, 1e9, 5)) {
    n.push_back(size);
    d.push_back(1e20 / (6 * size));
    l.push_back(2.0 + 0.05 * std::pow(std::log(size / 1e10), 2));  // minimum at 1e10
    w.push_back(1.0);
  }
  const IsoflopProfile p = FitIsoflopProfile(1e20, n, d, l, w);
  EXPECT_FALSE(p.ok);
  EXPECT_EQ(p.problem, "minimum outside the sizes trained");
}

TEST(IsoflopFitTest, RecoversComputeOptimalExponentsOfSimulatedChinchillaLaw) {
  const ChinchillaLaw truth = PublishedChinchillaLaw();
  IsoflopDesign design = ChinchillaLikeDesign(/*budgets=*/10, /*sizes=*/9);
  design.size_span = 4.0;
  const std::vector<Observation> runs = SimulateIsoflopSweep(truth, design, 0.01, 5);
  const FitResult fit = FitIsoflop(runs, Options());
  ASSERT_TRUE(fit.ok()) << fit.reason;
  EXPECT_EQ(fit.details["budgets_used"], 10);
  const FitParameter* a = fit.FindParameter("a");
  const FitParameter* b = fit.FindParameter("b");
  EXPECT_NEAR(a->value.estimate, OptimalParamsExponent(truth), 0.02);
  EXPECT_NEAR(b->value.estimate, OptimalTokensExponent(truth), 0.02);
  EXPECT_LT(a->value.lower, a->value.upper);
  // With C = 6ND at every budget, a + b = 1.
  EXPECT_NEAR(a->value.estimate + b->value.estimate, 1.0, 1e-9);

  const double c = 100 * fit.max_trained_flops;
  const absl::StatusOr<AllocationPrediction> opt = PredictOptimalAllocation(fit, c);
  ASSERT_TRUE(opt.ok()) << opt.status();
  const Allocation true_opt = ComputeOptimalAllocation(truth, c);
  EXPECT_NEAR(std::log(opt->params.estimate / true_opt.params), 0.0, std::log(1.3));
  EXPECT_TRUE(std::isnan(opt->loss.estimate));  // Approach 2 has no loss law
  EXPECT_FALSE(std::isnan(fit.holdout_relative_error));
}

TEST(IsoflopFitTest, SmallSweepGetsIntervals) {
  // Three budgets of five sizes: resamples often lose a budget's parabola.
  IsoflopDesign design = ChinchillaLikeDesign(3, 5);
  design.size_span = 4.0;
  const FitResult fit =
      FitIsoflop(SimulateIsoflopSweep(PublishedChinchillaLaw(), design, 0.01, 9), Options());
  ASSERT_TRUE(fit.ok()) << fit.reason;
  EXPECT_GE(fit.bootstrap_resamples, 100);
  const Interval a = fit.FindParameter("a")->value;
  EXPECT_LT(a.lower, a.upper);
}

TEST(IsoflopFitTest, RunsWithoutBudgetsAreInsufficientData) {
  std::vector<Observation> runs =
      SimulateIsoflopSweep(PublishedChinchillaLaw(), ChinchillaLikeDesign(5, 5), 0.01, 5);
  for (Observation& r : runs) r.budget = 0;
  const FitResult fit = FitIsoflop(runs, Options());
  EXPECT_EQ(fit.status, FitStatus::kInsufficientData);
  EXPECT_EQ(fit.details["runs_without_budget"], 25);
}

TEST(IsoflopFitTest, TwoSizesPerBudgetIsInsufficientData) {
  const std::vector<Observation> runs =
      SimulateIsoflopSweep(PublishedChinchillaLaw(), ChinchillaLikeDesign(5, 2), 0.01, 5);
  const FitResult fit = FitIsoflop(runs, Options());
  EXPECT_EQ(fit.status, FitStatus::kInsufficientData);
  EXPECT_NE(fit.reason.find("0 usable budgets of 5"), std::string::npos) << fit.reason;
  EXPECT_EQ(fit.details["budgets"][0]["problem"], "fewer than 3 distinct sizes");
}

}  // namespace
}  // namespace ladder::fit
