#include "server/fit/data_constrained_fit.h"

#include <gtest/gtest.h>

#include <cmath>

#include "server/fit/prediction.h"
#include "server/fit/simulated_observations.h"

namespace ladder::fit {
namespace {

// Muennighoff et al. 2023's fitted law (SCIENCE.md), R*_D = 15.39.
DataConstrainedLaw Muennighoff() {
  DataConstrainedLaw law;
  law.base = {1.87, 521.0, 0.353, 1488.0, 0.353};
  law.r_star_d = 15.39;
  return law;
}

std::vector<Observation> MultiEpochSweep(const DataConstrainedLaw& law, uint64_t seed) {
  return SimulateDataConstrainedSweep(law, LogSpaced(1e7, 1e9, 6), LogSpaced(1e8, 1e10, 5),
                                      {1, 2, 4, 8, 16, 32, 64}, 0.01, seed);
}

FitOptions Options(int resamples) {
  FitOptions options;
  options.threads = 2;
  options.bootstrap_resamples = resamples;
  return options;
}

TEST(DataConstrainedFitTest, RecoversChinchillaTermsAndRepetitionDecay) {
  const DataConstrainedLaw truth = Muennighoff();
  const std::vector<Observation> runs = MultiEpochSweep(truth, 21);
  const FitResult fit = FitDataConstrained(runs, Options(50));
  ASSERT_TRUE(fit.ok()) << fit.reason;
  EXPECT_EQ(fit.runs_used, 210);
  EXPECT_NEAR(fit.FindParameter("alpha")->value.estimate, truth.base.alpha, 0.02);
  EXPECT_NEAR(fit.FindParameter("beta")->value.estimate, truth.base.beta, 0.02);
  const FitParameter* r_star = fit.FindParameter("R_star_D");
  EXPECT_NEAR(std::log(r_star->value.estimate / truth.r_star_d), 0.0, std::log(1.3));
  EXPECT_LT(r_star->value.lower, truth.r_star_d);
  EXPECT_GT(r_star->value.upper, truth.r_star_d);

  // The value of repeated data: 64 epochs of 1e8 tokens vs 6.4e9 fresh tokens.
  const absl::StatusOr<LossPrediction> repeated = PredictLoss(fit, 1e9, 6.4e9, 1e8);
  const absl::StatusOr<LossPrediction> fresh = PredictLoss(fit, 1e9, 6.4e9, 0);
  ASSERT_TRUE(repeated.ok() && fresh.ok());
  EXPECT_NEAR(repeated->loss.estimate / truth.Loss(1e9, 6.4e9, 1e8), 1.0, 0.01);
  EXPECT_GT(repeated->loss.estimate, fresh->loss.estimate);
}

TEST(DataConstrainedFitTest, FreshDataOnlyIsInsufficientData) {
  const std::vector<Observation> runs =
      SimulateIsoflopSweep(PublishedChinchillaLaw(), ChinchillaLikeDesign(6, 6), 0.01, 1);
  const FitResult fit = FitDataConstrained(runs, Options(0));
  EXPECT_EQ(fit.status, FitStatus::kInsufficientData);
  EXPECT_NE(fit.reason.find("0 runs repeat data"), std::string::npos) << fit.reason;
}

}  // namespace
}  // namespace ladder::fit
