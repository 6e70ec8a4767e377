#include "worker/sim/simulated_law.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ladder::sim {
namespace {

TEST(SimulatedLawTest, DefaultsMatchTheDocumentedExamples) {
  const LawParams t = DefaultLaw(model::Family::kTransformer);
  const LawParams l = DefaultLaw(model::Family::kLstm);
  EXPECT_NEAR(LawLoss(t, 1e5, 2e6, 256), 2.68, 0.01);
  EXPECT_NEAR(LawLoss(t, 1e7, 2e8, 256), 1.22, 0.01);
  EXPECT_NEAR(LawLoss(l, 1e5, 2e6, 256), 3.71, 0.01);
  EXPECT_NEAR(LawLoss(l, 1e7, 2e8, 256), 1.69, 0.01);
}

TEST(SimulatedLawTest, TransformerBeatsLstmAndTheGapGrowsWithScale) {
  const LawParams t = DefaultLaw(model::Family::kTransformer);
  const LawParams l = DefaultLaw(model::Family::kLstm);
  double previous_ratio = 0;
  for (double n : {1e5, 1e6, 1e7, 1e8}) {
    const double d = 20 * n;
    const double lt = LawLoss(t, n, d, 256) - t.E;
    const double ll = LawLoss(l, n, d, 256) - l.E;
    EXPECT_LT(lt, ll) << n;
    EXPECT_GT(ll / lt, previous_ratio) << n;  // reducible-loss ratio grows
    previous_ratio = ll / lt;
  }
}

TEST(SimulatedLawTest, LossIsCappedAtUniformPrediction) {
  const LawParams t = DefaultLaw(model::Family::kTransformer);
  EXPECT_DOUBLE_EQ(LawLoss(t, 1e3, 100, 256), std::log(256.0));
}

TEST(SimulatedLawTest, EffectiveTokensFollowMuennighoff) {
  EXPECT_DOUBLE_EQ(EffectiveTokens(1e6, 0), 1e6);
  EXPECT_DOUBLE_EQ(EffectiveTokens(1e6, 2e6), 1e6);
  // Four epochs are worth nearly four fresh ones; forty are worth far less.
  const double u = 1e6;
  EXPECT_NEAR(EffectiveTokens(4 * u, u) / (4 * u), 0.93, 0.01);
  EXPECT_LT(EffectiveTokens(40 * u, u), 0.5 * 40 * u);
  // R = 1: D' = U + U R* (1 - e^{-1/R*}).
  EXPECT_NEAR(EffectiveTokens(2 * u, u), u + u * kRStarD * (1 - std::exp(-1 / kRStarD)), 1e-6);
}

TEST(SimulatedLawTest, NoiseIsDeterministicAndStandardNormal) {
  EXPECT_EQ(Normal(7, 1, 3), Normal(7, 1, 3));
  EXPECT_NE(Normal(7, 1, 3), Normal(8, 1, 3));
  EXPECT_NE(Normal(7, 1, 3), Normal(7, 2, 3));
  double sum = 0, sum_sq = 0;
  const int n = 20000;
  for (int i = 0; i < n; ++i) {
    const double z = Normal(42, 0, static_cast<uint64_t>(i));
    sum += z;
    sum_sq += z * z;
  }
  EXPECT_NEAR(sum / n, 0.0, 0.03);
  EXPECT_NEAR(sum_sq / n, 1.0, 0.05);
}

}  // namespace
}  // namespace ladder::sim
