#include "server/fit/family_comparison.h"

#include <gtest/gtest.h>

#include <cmath>

#include "server/fit/law_vector.h"

namespace ladder::fit {
namespace {

FitResult PowerLawFit(const std::string& family, double e, double a, double alpha,
                      double max_flops = 1e19) {
  FitResult fit;
  fit.form = FitForm::kPowerLawCompute;
  fit.family = family;
  fit.status = FitStatus::kOk;
  fit.flops_count = FlopsCount::kExact;
  fit.law = {e, a, alpha};
  // Samples: the exponent jittered around the estimate.
  for (int k = 0; k < 50; ++k) fit.law_samples.push_back({e, a, alpha * (1 + 0.002 * (k - 25))});
  fit.min_trained_flops = 1e15;
  fit.max_trained_flops = max_flops;
  return fit;
}

TEST(FamilyComparisonTest, FamilyAgainstItselfGainsNothing) {
  const FitResult lstm = PowerLawFit("lstm", 1.5, 60.0, 0.065);
  const absl::StatusOr<std::vector<CegPoint>> curve = CompareFamilies(lstm, lstm, 1e12, 1e25, 14);
  ASSERT_TRUE(curve.ok()) << curve.status();
  ASSERT_EQ(curve->size(), 14u);
  for (const CegPoint& p : *curve) {
    EXPECT_NEAR(p.gain.estimate, 1.0, 1e-9) << p.compute;
    EXPECT_NEAR(p.gain.lower, 1.0, 1e-9) << p.compute;  // paired samples are identical
    EXPECT_NEAR(p.gain.upper, 1.0, 1e-9) << p.compute;
  }
}

TEST(FamilyComparisonTest, TwoPowerLawsWithSharedFloorMatchTheClosedForm) {
  // Exponents of Gundlach et al.'s code: LSTM ~0.065, Transformer ~0.092.
  const double e = 1.5, a_s = 60.0, alpha_s = 0.065, a_t = 80.0, alpha_t = 0.092;
  const FitResult lstm = PowerLawFit("lstm", e, a_s, alpha_s);
  const FitResult transformer = PowerLawFit("transformer", e, a_t, alpha_t);
  const absl::StatusOr<std::vector<CegPoint>> curve =
      CompareFamilies(lstm, transformer, 1e15, 1e23, 9);
  ASSERT_TRUE(curve.ok()) << curve.status();
  for (const CegPoint& p : *curve) {
    // Solving E + A_S X^-alpha_S = E + A_T C^-alpha_T for X:
    const double closed =
        std::pow(a_s / a_t, 1 / alpha_s) * std::pow(p.compute, alpha_t / alpha_s - 1);
    EXPECT_NEAR(p.gain.estimate / closed, 1.0, 1e-9) << p.compute;
    EXPECT_LE(p.gain.lower, p.gain.estimate);
    EXPECT_GE(p.gain.upper, p.gain.estimate);
  }
  // The gain grows as C^(alpha_T/alpha_S - 1) ~ C^0.42: scale-dependent.
  EXPECT_GT(curve->back().gain.estimate / curve->front().gain.estimate, 1e3);
  // At the smallest trained compute the baseline still has to reach C * CEG,
  // twice its largest trained compute; at 1e23 the target is 1e4 x beyond.
  const CegPoint& first = curve->front();
  EXPECT_NEAR(first.extrapolation_factor, first.compute * first.gain.estimate / 1e19, 1e-9);
  EXPECT_GT(first.extrapolation_factor, 1.0);
  EXPECT_GE(curve->back().extrapolation_factor, 1e4);
  const absl::StatusOr<std::vector<CegPoint>> inside = CompareFamilies(transformer, transformer);
  ASSERT_TRUE(inside.ok());
  for (const CegPoint& p : *inside) EXPECT_EQ(p.extrapolation_factor, 1.0);
}

TEST(FamilyComparisonTest, UnreachableLossIsInfiniteGain) {
  const FitResult base = PowerLawFit("lstm", 2.5, 60.0, 0.065);         // floor 2.5
  const FitResult target = PowerLawFit("transformer", 1.5, 60.0, 0.1);  // reaches below 2.5
  const absl::StatusOr<std::vector<CegPoint>> curve = CompareFamilies(base, target, 1e22, 1e22, 1);
  ASSERT_TRUE(curve.ok());
  ASSERT_EQ(curve->size(), 1u);
  EXPECT_TRUE(std::isinf(curve->front().gain.estimate));
}

TEST(FamilyComparisonTest, ChinchillaFitsCompareThroughTheirOptimalFrontier) {
  FitResult chin;
  chin.form = FitForm::kChinchilla;
  chin.status = FitStatus::kOk;
  chin.flops_count = FlopsCount::kSixND;
  chin.law = ToVector(ChinchillaLaw{1.69, 406.4, 0.34, 410.7, 0.28});
  chin.min_trained_flops = 1e17;
  chin.max_trained_flops = 1e21;
  const absl::StatusOr<std::vector<CegPoint>> self = CompareFamilies(chin, chin);
  ASSERT_TRUE(self.ok()) << self.status();
  EXPECT_EQ(self->size(), 9u);  // defaults: 9 points over the trained range
  EXPECT_DOUBLE_EQ(self->front().compute, 1e17);
  EXPECT_NEAR(self->back().compute, 1e21, 1e6);
  for (const CegPoint& p : *self) EXPECT_NEAR(p.gain.estimate, 1.0, 1e-9);
}

TEST(FamilyComparisonTest, MismatchedFlopCountsAreRefused) {
  const FitResult a = PowerLawFit("lstm", 1.5, 60.0, 0.065);
  FitResult b = PowerLawFit("transformer", 1.5, 80.0, 0.092);
  b.flops_count = FlopsCount::kSixND;
  EXPECT_EQ(CompareFamilies(a, b).status().code(), absl::StatusCode::kFailedPrecondition);
  b.flops_count = FlopsCount::kExact;
  b.form = FitForm::kIsoflop;
  b.law = {0.5, 0, 0.5, 0};
  EXPECT_EQ(CompareFamilies(a, b).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(CompareFamilies(a, a, 1e20, 1e18).status().code(), absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ladder::fit
