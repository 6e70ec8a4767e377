#include "server/fit/data_budget.h"

#include <gtest/gtest.h>

#include <cmath>

#include "server/fit/simulated_observations.h"

namespace ladder::fit {
namespace {

// A ladder at 20 tokens per parameter: D = sqrt(20 C / 6), slope 1/2.
TEST(DataBudgetTest, RecipeOfAFixedRatioLadderIsTheSquareRootLaw) {
  const std::vector<Observation> runs =
      SimulatePowerLawRuns({1.8, 50.0, 0.1}, LogSpaced(1e15, 1e19, 8), 0.0, 1);
  const TokenRecipe recipe = FitTokenRecipe(runs, FlopsCount::kSixND);
  ASSERT_TRUE(recipe.ok());
  EXPECT_EQ(recipe.runs, 8);
  EXPECT_NEAR(recipe.slope, 0.5, 1e-9);
  const double c = 1e21;
  EXPECT_NEAR(recipe.TokensAt(c) / std::sqrt(20 * c / 6), 1.0, 1e-6);
}

// A recipe that is no fixed ratio (here D grows as C^0.7) is followed too.
TEST(DataBudgetTest, RecipeFollowsAnyPowerOfCompute) {
  std::vector<Observation> runs;
  for (double c : LogSpaced(1e14, 1e18, 6)) {
    Observation o;
    o.tokens = 3.0 * std::pow(c, 0.7);
    o.params = c / (6 * o.tokens);
    o.flops = c;
    runs.push_back(o);
  }
  const TokenRecipe recipe = FitTokenRecipe(runs, FlopsCount::kExact);
  ASSERT_TRUE(recipe.ok());
  EXPECT_NEAR(recipe.slope, 0.7, 1e-9);
  EXPECT_NEAR(recipe.TokensAt(1e20) / (3.0 * std::pow(1e20, 0.7)), 1.0, 1e-6);
}

TEST(DataBudgetTest, OneComputeGivesNoRecipe) {
  Observation o;
  o.params = 1e6;
  o.tokens = 2e7;
  o.flops = 6 * o.params * o.tokens;
  const TokenRecipe recipe = FitTokenRecipe({o, o, o}, FlopsCount::kExact);
  EXPECT_FALSE(recipe.ok());
  EXPECT_TRUE(std::isnan(recipe.TokensAt(1e20)));
  EXPECT_FALSE(FitTokenRecipe({}, FlopsCount::kExact).ok());
}

TEST(DataBudgetTest, CorpusIsTheLargestReported) {
  std::vector<Observation> runs(3);
  EXPECT_EQ(CorpusTokens(runs), 0);  // nobody says
  runs[0].corpus_tokens = 3.9e6;
  runs[2].corpus_tokens = 1e6;  // a run capped by data.unique_tokens
  EXPECT_EQ(CorpusTokens(runs), 3.9e6);
}

TEST(DataBudgetTest, WarningOnlyBeyondOneEpoch) {
  EXPECT_EQ(BeyondOneEpochWarning(7.137e7, 3.9e6),
            "the target needs 18.3 epochs of the sweep's 3.9M-token corpus; the law assumes "
            "fresh data: expect a higher loss");
  EXPECT_EQ(BeyondOneEpochWarning(7.3e7, 9.5e7), "");
  EXPECT_EQ(BeyondOneEpochWarning(7.3e7, 0), "");  // corpus unknown
  EXPECT_EQ(BeyondOneEpochWarning(0, 9.5e7), "");
  EXPECT_EQ(HumanCount(950), "950");
  EXPECT_EQ(HumanCount(9.5e7), "95M");
  EXPECT_EQ(HumanCount(1.234e9), "1.23B");
  EXPECT_EQ(HumanCount(2e16), "2e+16");
}

}  // namespace
}  // namespace ladder::fit
