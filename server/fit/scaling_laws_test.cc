#include "server/fit/scaling_laws.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ladder::fit {
namespace {

ChinchillaLaw Hoffmann() { return {1.69, 406.4, 0.34, 410.7, 0.28}; }

TEST(ScalingLawsTest, ChinchillaLossAddsTheThreeTerms) {
  const ChinchillaLaw law = Hoffmann();
  EXPECT_DOUBLE_EQ(law.Loss(1e9, 2e10),
                   1.69 + 406.4 * std::pow(1e9, -0.34) + 410.7 * std::pow(2e10, -0.28));
}

TEST(ScalingLawsTest, ComputeOptimalAllocationSpendsTheBudgetAndMinimisesLoss) {
  const ChinchillaLaw law = Hoffmann();
  const double c = 5.76e23;  // Chinchilla's own budget
  const Allocation opt = ComputeOptimalAllocation(law, c);
  EXPECT_NEAR(6.0 * opt.params * opt.tokens / c, 1.0, 1e-12);
  EXPECT_DOUBLE_EQ(opt.loss, law.Loss(opt.params, opt.tokens));
  // Any other split of the same budget is worse.
  for (double f : {0.5, 0.9, 1.1, 2.0}) {
    const double n = opt.params * f;
    EXPECT_GT(law.Loss(n, c / (6.0 * n)), opt.loss) << "factor " << f;
  }
  EXPECT_NEAR(OptimalParamsExponent(law), 0.28 / 0.62, 1e-15);
  EXPECT_NEAR(OptimalParamsExponent(law) + OptimalTokensExponent(law), 1.0, 1e-15);
}

TEST(ScalingLawsTest, ComputeOptimalFrontierIsTheLossAtTheOptimalAllocation) {
  const ChinchillaLaw law = Hoffmann();
  const PowerLawInCompute frontier = ComputeOptimalFrontier(law);
  EXPECT_DOUBLE_EQ(frontier.E, law.E);
  EXPECT_NEAR(frontier.alpha, 0.34 * 0.28 / 0.62, 1e-15);
  for (double c : {1e15, 1e19, 1e24}) {
    EXPECT_NEAR(frontier.Loss(c), ComputeOptimalAllocation(law, c).loss, 1e-12) << c;
  }
}

TEST(ScalingLawsTest, AllocationNeedsPositiveExponents) {
  ChinchillaLaw law = Hoffmann();
  law.alpha = -0.1;
  EXPECT_TRUE(std::isnan(ComputeOptimalAllocation(law, 1e20).params));
}

TEST(ScalingLawsTest, ComputeForLossInvertsThePowerLaw) {
  const PowerLawInCompute law{1.5, 300.0, 0.1};
  for (double c : {1e12, 1e18, 1e25}) {
    EXPECT_NEAR(law.ComputeForLoss(law.Loss(c)) / c, 1.0, 1e-9) << c;
  }
  EXPECT_TRUE(std::isinf(law.ComputeForLoss(1.5)));  // the floor is never reached
  EXPECT_TRUE(std::isinf(law.ComputeForLoss(1.0)));
}

TEST(ScalingLawsTest, EffectiveTokensFollowMuennighoff) {
  const double u = 1e9, r_star = 15.39;
  EXPECT_EQ(EffectiveTokens(5e8, u, r_star), 5e8);  // less than one epoch: fresh
  EXPECT_EQ(EffectiveTokens(3e9, 0, r_star), 3e9);  // U = 0 means fresh data
  // Four epochs (R = 3) are worth nearly four epochs of fresh data ...
  EXPECT_GT(EffectiveTokens(4e9, u, r_star) / 4e9, 0.9);
  // ... while many epochs saturate at U (1 + R*_D).
  EXPECT_NEAR(EffectiveTokens(1e13, u, r_star), u * (1 + r_star), 1e-6 * u);
  // Exact value at R = 1.
  EXPECT_DOUBLE_EQ(EffectiveTokens(2e9, u, r_star), u + u * r_star * (1 - std::exp(-1.0 / r_star)));
}

TEST(ScalingLawsTest, AllocationLawIsAPowerLawInCompute) {
  const AllocationLaw law{0.5, std::log(0.1), 0.5, std::log(1.6)};
  EXPECT_NEAR(law.ParamsAt(1e20), 0.1 * 1e10, 1e-3);
  EXPECT_NEAR(law.TokensAt(1e20), 1.6 * 1e10, 1e-2);
}

}  // namespace
}  // namespace ladder::fit
