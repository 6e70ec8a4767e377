#include "common/model/architecture_rule.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/model/model_counts.h"

namespace ladder::model {
namespace {

TEST(ShapeForParamsTest, Gpt2SmallSizeGivesGpt2SmallShape) {
  // 85M non-embedding params at aspect 64 -> 12 layers of width 768, 12 heads.
  ModelShape s = ShapeForParams(Family::kTransformer, 85e6, 1024, 50257);
  EXPECT_EQ(s.n_layer, 12);
  EXPECT_EQ(s.d_model, 768);
  EXPECT_EQ(s.n_head, 12);
  EXPECT_EQ(s.d_ff, 3072);
  EXPECT_EQ(ValidateShape(s), "");
}

TEST(ShapeForParamsTest, LstmWidthSolvesForTwoLayers) {
  ModelShape s = ShapeForParams(Family::kLstm, 1e6, 128, 256);
  EXPECT_EQ(s.n_layer, 2);
  EXPECT_EQ(s.d_model, 248);  // sqrt(1e6 / 16) = 250 -> nearest multiple of 8
  EXPECT_EQ(ValidateShape(s), "");
}

TEST(ShapeForParamsTest, BothFamiliesLandNearTheTargetAcrossThreeDecades) {
  for (double n : {3e4, 1e5, 3e5, 1e6, 3e6, 1e7, 3e7}) {
    for (Family f : {Family::kTransformer, Family::kLstm}) {
      ModelShape s = ShapeForParams(f, n, 128, 256);
      ASSERT_EQ(ValidateShape(s), "") << n;
      const double got = static_cast<double>(CountParams(s).non_embedding);
      EXPECT_LT(std::abs(std::log(got / n)), std::log(1.6))
          << FamilyName(f) << " target " << n << " got " << got << " " << DescribeShape(s);
    }
  }
}

TEST(ShapeForParamsTest, IsDeterministicAndMonotone) {
  int64_t last = 0;
  for (double n = 1e4; n < 1e8; n *= 1.5) {
    ModelShape a = ShapeForParams(Family::kTransformer, n, 256, 256);
    EXPECT_EQ(a, ShapeForParams(Family::kTransformer, n, 256, 256));
    const int64_t p = CountParams(a).non_embedding;
    EXPECT_GE(p, last) << n;
    last = p;
  }
}

TEST(PeakLearningRateTest, KaplanRuleFallsWithSize) {
  EXPECT_NEAR(PeakLearningRate(LrRule::kKaplan, 1.0, 1000000), 0.003239 - 0.0001395 * std::log(1e6),
              1e-12);
  EXPECT_GT(PeakLearningRate(LrRule::kKaplan, 1.0, 10000),
            PeakLearningRate(LrRule::kKaplan, 1.0, 100000000));
  EXPECT_DOUBLE_EQ(PeakLearningRate(LrRule::kKaplan, 2.0, 1000000),
                   2 * PeakLearningRate(LrRule::kKaplan, 1.0, 1000000));
  EXPECT_DOUBLE_EQ(PeakLearningRate(LrRule::kConstant, 0.002, 123), 0.002);
}

}  // namespace
}  // namespace ladder::model
