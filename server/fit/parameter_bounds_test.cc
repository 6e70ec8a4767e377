#include "server/fit/parameter_bounds.h"

#include <gtest/gtest.h>

#include <cmath>

#include "server/fit/chinchilla_fit.h"
#include "server/fit/fit_json.h"
#include "server/fit/power_law_fit.h"
#include "server/fit/simulated_observations.h"

namespace ladder::fit {
namespace {

FitOptions Options() {
  FitOptions options;
  options.threads = 2;
  options.bootstrap_resamples = 40;
  return options;
}

bool HasWarningStarting(const std::vector<std::string>& warnings, const std::string& prefix) {
  for (const std::string& w : warnings) {
    if (w.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

// SIMULATION: losses that bend down in log-log (a "floor" below zero, which
// no loss has) leave the fit nothing to place E with: it lands on E = 0.
TEST(ParameterBoundsTest, FitWhoseEStopsAtZeroIsFlagged) {
  const std::vector<Observation> runs =
      SimulatePowerLawRuns({-0.1, 50.0, 0.1}, LogSpaced(1e15, 1e19, 10), 0.0, 3);
  const FitResult fit = FitPowerLawCompute(runs, Options());
  ASSERT_TRUE(fit.ok()) << fit.reason;
  const FitParameter* e = fit.FindParameter("E");
  ASSERT_NE(e, nullptr);
  EXPECT_EQ(e->at_bound, "lower");
  EXPECT_EQ(e->bound, 0.0);
  EXPECT_EQ(fit.FindParameter("alpha")->at_bound, "");
  EXPECT_EQ(ParametersAtBound(fit.parameters), 1);
  const std::vector<std::string> warnings = BoundWarnings(fit.form, fit.parameters);
  ASSERT_TRUE(HasWarningStarting(warnings,
                                 "E = 0 is on its lower bound: the data do not place "
                                 "the irreducible loss"))
      << (warnings.empty() ? "no warnings" : warnings[0]);
}

TEST(ParameterBoundsTest, FitWithAClearFloorIsNotFlagged) {
  const std::vector<Observation> runs =
      SimulatePowerLawRuns({1.8, 50.0, 0.1}, LogSpaced(1e15, 1e19, 12), 0.005, 4);
  const FitResult fit = FitPowerLawCompute(runs, Options());
  ASSERT_TRUE(fit.ok()) << fit.reason;
  for (const FitParameter& p : fit.parameters) EXPECT_EQ(p.at_bound, "") << p.name;
  EXPECT_EQ(ParametersAtBound(fit.parameters), 0);
  EXPECT_TRUE(BoundWarnings(fit.form, fit.parameters).empty());
}

// The shared-E form has power_law_compute's law vector, so its bounds.
TEST(ParameterBoundsTest, SharedEFormHasThePowerLawBounds) {
  for (FitForm form : {FitForm::kPowerLawCompute, FitForm::kPowerLawSharedE}) {
    const ParameterBound e = BoundOfParameter(form, "E");
    ASSERT_TRUE(e.lower.has_value());
    EXPECT_EQ(*e.lower, 0.0);
    const ParameterBound alpha = BoundOfParameter(form, "alpha");
    EXPECT_EQ(alpha.upper.value_or(-1), 10.0);
    EXPECT_FALSE(BoundOfParameter(form, "A").lower.has_value());
  }
  std::vector<FitParameter> params(3);
  params[0].name = "E";
  params[0].value = {0.0, 0.0, 0.3};
  params[1].name = "A";
  params[1].value = {50.0, 40.0, 60.0};
  params[2].name = "alpha";
  params[2].value = {10.0, 9.0, 10.0};
  MarkBounds(FitForm::kPowerLawSharedE, &params);
  EXPECT_EQ(params[0].at_bound, "lower");
  EXPECT_EQ(params[1].at_bound, "");
  EXPECT_EQ(params[2].at_bound, "upper");
  EXPECT_EQ(params[2].bound, 10.0);
  EXPECT_EQ(BoundWarnings(FitForm::kPowerLawSharedE, params).size(), 2u);
}

// Approach 3 fits log E: E reaches 0 only in the limit, flagged below 1e-4.
// Derived parameters (a, b, G) and isoflop's regressions have no bound.
TEST(ParameterBoundsTest, LogParametrisedEIsFlaggedInItsLimit) {
  std::vector<FitParameter> params(2);
  params[0].name = "E";
  params[0].value = {3e-6, 1e-7, 0.9};
  params[1].name = "a";
  params[1].value = {0.0, -0.1, 0.1};
  MarkBounds(FitForm::kChinchilla, &params);
  EXPECT_EQ(params[0].at_bound, "lower");
  EXPECT_EQ(params[1].at_bound, "");
  params[0].value.estimate = 0.05;
  MarkBounds(FitForm::kDataConstrained, &params);
  EXPECT_EQ(params[0].at_bound, "");
  EXPECT_FALSE(BoundOfParameter(FitForm::kIsoflop, "a").lower.has_value());
}

// SIMULATION: a grid from a Chinchilla law with no floor (E = 0). Approach 3
// walks log E down until the objective stops changing; that limit must read
// as on the bound, and the published law's E = 1.69 must not.
TEST(ParameterBoundsTest, ChinchillaFitOfALawWithoutAFloorIsFlagged) {
  FitOptions options;
  options.threads = 2;
  options.bootstrap_resamples = 0;
  options.holdout = false;
  ChinchillaLaw no_floor = PublishedChinchillaLaw();
  no_floor.E = 0;
  const std::vector<double> sizes = LogSpaced(1e7, 1e9, 4), tokens = LogSpaced(1e9, 1e11, 4);
  const FitResult flat = FitChinchilla(SimulateGrid(no_floor, sizes, tokens, 0.0, 1), options);
  ASSERT_TRUE(flat.ok()) << flat.reason;
  EXPECT_EQ(flat.FindParameter("E")->at_bound, "lower")
      << "E = " << flat.FindParameter("E")->value.estimate;
  const FitResult floor =
      FitChinchilla(SimulateGrid(PublishedChinchillaLaw(), sizes, tokens, 0.0, 1), options);
  ASSERT_TRUE(floor.ok()) << floor.reason;
  EXPECT_EQ(floor.FindParameter("E")->at_bound, "");
}

// Off the bound, an interval that reaches it still says so (the demo's
// E = 0.055 with [0, 1.4]).
TEST(ParameterBoundsTest, IntervalReachingABoundIsAWarning) {
  std::vector<FitParameter> params(1);
  params[0].name = "E";
  params[0].value = {0.055, 0.0, 1.4};
  MarkBounds(FitForm::kPowerLawCompute, &params);
  EXPECT_EQ(params[0].at_bound, "");
  const std::vector<std::string> warnings = BoundWarnings(FitForm::kPowerLawCompute, params);
  ASSERT_EQ(warnings.size(), 1u);
  EXPECT_EQ(
      warnings[0].rfind("E = 0.055 has a 95% interval [0, 1.4] that reaches its lower bound 0", 0),
      0u)
      << warnings[0];
}

}  // namespace
}  // namespace ladder::fit
