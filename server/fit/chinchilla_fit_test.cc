#include "server/fit/chinchilla_fit.h"

#include <gtest/gtest.h>

#include <cmath>
#include <limits>

#include "server/fit/prediction.h"
#include "server/fit/simulated_observations.h"

namespace ladder::fit {
namespace {

FitOptions FastOptions(int resamples) {
  FitOptions options;
  options.threads = 2;
  options.bootstrap_resamples = resamples;
  return options;
}

// 250 runs, 1% noise, one seed: the recovery figures of MISSION.md. (The
// coverage of the interval over 100 seeds is measured in bench/fit.)
TEST(ChinchillaFitTest, RecoversSimulatedChinchillaLawAndPredicts100xCompute) {
  const ChinchillaLaw truth = PublishedChinchillaLaw();
  const std::vector<Observation> runs =
      SimulateIsoflopSweep(truth, ChinchillaLikeDesign(), /*sigma=*/0.01, /*seed=*/7);
  ASSERT_EQ(runs.size(), 250u);
  const FitResult fit = FitChinchilla(runs, FastOptions(200));
  ASSERT_TRUE(fit.ok()) << fit.reason;
  EXPECT_EQ(fit.runs_used, 250);
  EXPECT_EQ(fit.flops_count, FlopsCount::kSixND);
  EXPECT_NEAR(fit.FindParameter("alpha")->value.estimate, truth.alpha, 0.02);
  EXPECT_NEAR(fit.FindParameter("beta")->value.estimate, truth.beta, 0.02);
  EXPECT_NEAR(fit.FindParameter("a")->value.estimate, OptimalParamsExponent(truth), 0.02);
  EXPECT_EQ(fit.bootstrap_resamples, 200);
  EXPECT_EQ(fit.details["starts"], 4500);

  const double c = 100 * fit.max_trained_flops;
  const absl::StatusOr<LossPrediction> predicted = PredictLossAtCompute(fit, c);
  ASSERT_TRUE(predicted.ok()) << predicted.status();
  const double true_loss = ComputeOptimalFrontier(truth).Loss(c);
  EXPECT_NEAR(predicted->loss.estimate / true_loss, 1.0, 0.01);
  EXPECT_NEAR(predicted->extrapolation_factor, 100.0, 1e-9);
  EXPECT_LT(predicted->loss.lower, predicted->loss.estimate);
  EXPECT_GT(predicted->loss.upper, predicted->loss.estimate);

  // Fit quality: noise of 1% in log space gives an RMSE near 0.01.
  EXPECT_NEAR(fit.rmse_log_loss, 0.01, 0.003);
  EXPECT_LT(std::abs(fit.holdout_relative_error), 0.03);
  EXPECT_GT(fit.fit_seconds, 0.0);
}

TEST(ChinchillaFitTest, AnswerDoesNotDependOnThreadCount) {
  const std::vector<Observation> runs =
      SimulateIsoflopSweep(PublishedChinchillaLaw(), ChinchillaLikeDesign(8, 8), 0.01, 3);
  FitOptions one = FastOptions(6);
  one.threads = 1;
  const FitResult a = FitChinchilla(runs, one);
  const FitResult b = FitChinchilla(runs, FastOptions(6));
  ASSERT_TRUE(a.ok()) << a.reason;
  EXPECT_EQ(a.law, b.law);
  EXPECT_EQ(a.law_samples, b.law_samples);
}

TEST(ChinchillaFitTest, TooFewRunsIsInsufficientData) {
  std::vector<Observation> runs =
      SimulateIsoflopSweep(PublishedChinchillaLaw(), ChinchillaLikeDesign(2, 3), 0.01, 1);
  const FitResult fit = FitChinchilla(runs, FastOptions(0));
  EXPECT_EQ(fit.status, FitStatus::kInsufficientData);
  EXPECT_NE(fit.reason.find("6 usable runs"), std::string::npos) << fit.reason;
  EXPECT_EQ(fit.form, FitForm::kChinchilla);
}

TEST(ChinchillaFitTest, IdenticalSizesAreInsufficientData) {
  std::vector<Observation> runs =
      SimulateGrid(PublishedChinchillaLaw(), {1e8}, LogSpaced(1e9, 1e11, 12), 0.01, 1);
  const FitResult fit = FitChinchilla(runs, FastOptions(0));
  EXPECT_EQ(fit.status, FitStatus::kInsufficientData);
  EXPECT_NE(fit.reason.find("1 distinct sizes N"), std::string::npos) << fit.reason;
}

TEST(ChinchillaFitTest, OneTokensPerParameterLadderIsInsufficientData) {
  std::vector<Observation> runs;
  const ChinchillaLaw law = PublishedChinchillaLaw();
  for (double n : LogSpaced(1e7, 1e9, 10)) {
    Observation o;
    o.params = n;
    o.tokens = 20 * n;
    o.flops = 6 * n * o.tokens;
    o.loss = law.Loss(n, o.tokens);
    runs.push_back(o);
  }
  const FitResult fit = FitChinchilla(runs, FastOptions(0));
  EXPECT_EQ(fit.status, FitStatus::kInsufficientData);
  EXPECT_NE(fit.reason.find("collinear"), std::string::npos) << fit.reason;
}

TEST(ChinchillaFitTest, NaNLossesAreDroppedAndCounted) {
  std::vector<Observation> runs =
      SimulateIsoflopSweep(PublishedChinchillaLaw(), ChinchillaLikeDesign(6, 6), 0.01, 2);
  runs[3].loss = std::numeric_limits<double>::quiet_NaN();
  runs[9].loss = std::numeric_limits<double>::infinity();
  const FitResult fit = FitChinchilla(runs, FastOptions(0));
  ASSERT_TRUE(fit.ok()) << fit.reason;
  EXPECT_EQ(fit.runs_used, 34);
  EXPECT_EQ(fit.details["runs_dropped"], 2);

  for (Observation& r : runs) r.loss = std::numeric_limits<double>::quiet_NaN();
  const FitResult none = FitChinchilla(runs, FastOptions(0));
  EXPECT_EQ(none.status, FitStatus::kInsufficientData);
  EXPECT_NE(none.reason.find("non-finite or non-positive loss"), std::string::npos) << none.reason;
}

TEST(ChinchillaFitTest, LossRisingWithSizeFails) {
  // Loss grows with N: the best fit has a negative exponent.
  std::vector<Observation> runs = SimulateGrid(PublishedChinchillaLaw(), LogSpaced(1e7, 1e9, 4),
                                               LogSpaced(1e9, 1e11, 4), 0.001, 1);
  for (Observation& r : runs)
    r.loss = 2.0 + 0.3 * std::log10(r.params) - 0.1 * std::log10(r.tokens);
  const FitResult fit = FitChinchilla(runs, FastOptions(0));
  EXPECT_EQ(fit.status, FitStatus::kFailed);
  EXPECT_NE(fit.reason.find("alpha"), std::string::npos) << fit.reason;
}

TEST(ChinchillaFitTest, SeveralFamiliesAreRefused) {
  std::vector<Observation> runs =
      SimulateIsoflopSweep(PublishedChinchillaLaw(), ChinchillaLikeDesign(4, 4), 0.01, 1);
  runs[0].family = "lstm";
  const FitResult fit = FitChinchilla(runs, FastOptions(0));
  EXPECT_EQ(fit.status, FitStatus::kFailed);
  EXPECT_NE(fit.reason.find("several families"), std::string::npos) << fit.reason;
}

}  // namespace
}  // namespace ladder::fit

namespace ladder::fit {
namespace {

// A large import (thousands of runs of one family) used to cost the full
// grid on every run: a minute per refit. The work is bounded by run count:
// the fit uses a seeded subset of max_fit_runs runs, and the grid screens a
// subset of max_grid_runs of those before refining on all of them. (Sizes
// scaled down here so that the test takes a second; `ladder_fit_bench
// import --runs 5000` times the defaults.)
TEST(ChinchillaFitTest, WorkOfALargeFitIsBoundedByRunCount) {
  const FitOptions defaults;
  EXPECT_GT(defaults.max_fit_runs, 0);
  EXPECT_GT(defaults.max_grid_runs, 0);
  const ChinchillaLaw truth = PublishedChinchillaLaw();
  const std::vector<Observation> runs =
      SimulateGrid(truth, LogSpaced(1e7, 1e9, 30), LogSpaced(2e8, 2e10, 30), 0.01, 7, "big");
  ASSERT_EQ(runs.size(), 900u);
  FitOptions options = FastOptions(10);
  options.holdout = false;
  options.max_fit_runs = 300;
  options.max_grid_runs = 60;
  const FitResult fit = FitChinchilla(runs, options);
  ASSERT_TRUE(fit.ok()) << fit.reason;
  EXPECT_EQ(fit.runs_used, 300);
  EXPECT_EQ(fit.details["runs_subsampled_from"], 900);
  EXPECT_EQ(fit.details["grid_runs"], 60);
  EXPECT_EQ(fit.details["starts"], 4500);
  EXPECT_NEAR(fit.FindParameter("alpha")->value.estimate, truth.alpha, 0.03);
  EXPECT_NEAR(fit.FindParameter("beta")->value.estimate, truth.beta, 0.03);

  // At or under the bounds nothing changes: every run, the whole grid on all.
  std::vector<Observation> small;
  for (size_t i = 0; i < runs.size(); i += 17) small.push_back(runs[i]);
  ASSERT_EQ(small.size(), 53u);
  const FitResult whole = FitChinchilla(small, options);
  ASSERT_TRUE(whole.ok()) << whole.reason;
  EXPECT_EQ(whole.runs_used, 53);
  EXPECT_FALSE(whole.details.contains("runs_subsampled_from"));
  EXPECT_EQ(whole.details["grid_runs"], 53);
}

}  // namespace
}  // namespace ladder::fit
