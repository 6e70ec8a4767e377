// power_law_shared_e on SIMULATED runs (simulated_observations.h): laws
// chosen here, log-normal noise; nothing below is a measurement.
#include "server/fit/shared_e_fit.h"

#include <gtest/gtest.h>

#include <cmath>

#include "server/fit/power_law_fit.h"
#include "server/fit/simulated_observations.h"

namespace ladder::fit {
namespace {

constexpr double kE = 0.9;  // the floor both families share

FitOptions Options(int resamples, int threads = 2) {
  FitOptions options;
  options.threads = threads;
  options.bootstrap_resamples = resamples;
  return options;
}

using ByFamily = std::map<std::string, std::vector<Observation>>;

// Two families on the same floor with different A and alpha, 12 runs each
// over four decades of compute, 0.5% noise.
const PowerLawInCompute kLstm{kE, 60, 0.15};
const PowerLawInCompute kTransformer{kE, 400, 0.22};
ByFamily TwoFamilies(uint64_t seed) {
  return {
      {"lstm", SimulatePowerLawRuns(kLstm, LogSpaced(1e15, 1e19, 12), 0.005, seed, 0, 0, "lstm")},
      {"transformer", SimulatePowerLawRuns(kTransformer, LogSpaced(1e15, 1e19, 12), 0.005,
                                           seed + 100, 0, 0, "transformer")}};
}

double Estimate(const FitResult& fit, const char* name) {
  const FitParameter* p = fit.FindParameter(name);
  return p ? p->value.estimate : std::nan("");
}

bool Covers(const FitResult& fit, const char* name, double truth) {
  const FitParameter* p = fit.FindParameter(name);
  return p && p->value.lower <= truth && truth <= p->value.upper;
}

TEST(SharedEFitTest, RecoversTheSharedFloorAndEachFamilysExponent) {
  const std::map<std::string, FitResult> fits = FitSharedE(TwoFamilies(1), Options(0));
  ASSERT_EQ(fits.size(), 2u);
  const FitResult& lstm = fits.at("lstm");
  const FitResult& transformer = fits.at("transformer");
  ASSERT_TRUE(lstm.ok()) << lstm.reason;
  ASSERT_TRUE(transformer.ok()) << transformer.reason;
  EXPECT_EQ(lstm.form, FitForm::kPowerLawSharedE);
  EXPECT_EQ(lstm.family, "lstm");
  EXPECT_EQ(lstm.law[0], transformer.law[0]) << "one E";
  // Seed 1 gives E = 0.905 (+0.5%), alpha 0.152 and 0.239.
  EXPECT_NEAR(Estimate(lstm, "E") / kE, 1.0, 0.03);
  EXPECT_NEAR(Estimate(lstm, "alpha"), kLstm.alpha, 0.01);
  EXPECT_NEAR(Estimate(transformer, "alpha"), kTransformer.alpha, 0.03);
  EXPECT_NEAR(Estimate(lstm, "A") / kLstm.A, 1.0, 0.3);
  for (const FitResult* f : {&lstm, &transformer}) {
    EXPECT_EQ(f->runs_used, 12);
    EXPECT_EQ(f->details["shared_with"], nlohmann::json({"lstm", "transformer"}));
    EXPECT_GE(f->details["frontier_points"].get<int>(), 10);  // noise lifts a run off it
    EXPECT_LT(f->rmse_log_loss, 0.01);
    EXPECT_LT(std::abs(f->holdout_relative_error), 0.02);
    EXPECT_NEAR(f->max_trained_flops / 1e19, 1.0, 1e-9);
    EXPECT_NEAR(f->min_trained_flops / 1e15, 1.0, 1e-9);
  }
}

TEST(SharedEFitTest, AFamilyWhoseOwnFitPutsEOnZeroGetsTheSharedFloor) {
  // The lstm's 6 runs span 1.5 decades with 1.5% noise: alone they cannot
  // place E (its own fits range from 0 to 1.4 over these seeds); the
  // transformer's 10 runs over four decades can.
  const PowerLawInCompute lstm_law{kE, 2000, 0.2}, transformer_law{kE, 8700, 0.26};
  double own_worst = 0;
  bool own_at_zero = false;
  for (uint64_t seed = 1; seed <= 12; ++seed) {
    const ByFamily runs = {
        {"lstm",
         SimulatePowerLawRuns(lstm_law, LogSpaced(1e15, 3e16, 6), 0.015, seed, 0, 0, "lstm")},
        {"transformer", SimulatePowerLawRuns(transformer_law, LogSpaced(1e15, 1e19, 10), 0.005,
                                             seed + 100, 0, 0, "transformer")}};
    const FitResult own = FitPowerLawCompute(runs.at("lstm"), Options(0));
    ASSERT_TRUE(own.ok()) << own.reason;
    own_worst = std::max(own_worst, std::abs(Estimate(own, "E") - kE));
    own_at_zero |= Estimate(own, "E") < 1e-9;
    const FitResult joint = FitSharedE(runs, Options(0)).at("lstm");
    ASSERT_TRUE(joint.ok()) << joint.reason;
    // The joint E is within 2.1% of the truth in all 12 draws.
    EXPECT_NEAR(Estimate(joint, "E") / kE, 1.0, 0.03) << "seed " << seed;
    EXPECT_NEAR(Estimate(joint, "alpha"), lstm_law.alpha, 0.03) << "seed " << seed;
  }
  EXPECT_TRUE(own_at_zero) << "no draw put the lstm's own E at 0 (seed 9 did)";
  EXPECT_GT(own_worst, 0.5);
}

TEST(SharedEFitTest, IntervalsCoverTheTruth) {
  // 10 draws, 100 resamples each: each 95% interval covers its truth in at
  // least 8 (at the time of writing E 10 of 10, alpha 9 (lstm) and 10).
  int covered_e = 0, covered_lstm = 0, covered_transformer = 0;
  constexpr int kDraws = 10;
  for (uint64_t seed = 1; seed <= kDraws; ++seed) {
    const std::map<std::string, FitResult> fits = FitSharedE(TwoFamilies(seed), Options(100));
    const FitResult& lstm = fits.at("lstm");
    const FitResult& transformer = fits.at("transformer");
    ASSERT_TRUE(lstm.ok() && transformer.ok()) << lstm.reason;
    ASSERT_EQ(lstm.law_samples.size(), transformer.law_samples.size());
    for (size_t k = 0; k < lstm.law_samples.size(); ++k) {
      ASSERT_EQ(lstm.law_samples[k][0], transformer.law_samples[k][0]) << "sample " << k;
    }
    EXPECT_EQ(lstm.FindParameter("E")->value.lower, transformer.FindParameter("E")->value.lower);
    covered_e += Covers(lstm, "E", kE);
    covered_lstm += Covers(lstm, "alpha", kLstm.alpha);
    covered_transformer += Covers(transformer, "alpha", kTransformer.alpha);
  }
  EXPECT_GE(covered_e, 8);
  EXPECT_GE(covered_lstm, 8);
  EXPECT_GE(covered_transformer, 8);
}

TEST(SharedEFitTest, AFamilyWithTooFewFrontierPointsSaysSoAndLeavesTooFewToShare) {
  ByFamily runs = TwoFamilies(1);
  runs["transformer"].resize(2);
  const std::map<std::string, FitResult> fits = FitSharedE(runs, Options(0));
  const FitResult& transformer = fits.at("transformer");
  EXPECT_EQ(transformer.status, FitStatus::kInsufficientData);
  EXPECT_NE(transformer.reason.find("2 points on the compute frontier from 2 usable runs; "
                                    "power_law_shared_e needs at least 3 per family"),
            std::string::npos)
      << transformer.reason;
  const FitResult& lstm = fits.at("lstm");
  EXPECT_EQ(lstm.status, FitStatus::kInsufficientData);
  EXPECT_NE(lstm.reason.find("needs at least two families with 3 compute-frontier points each; "
                             "only lstm has"),
            std::string::npos)
      << lstm.reason;
}

// SIMULATION: the first rungs of two ladders, 4 runs each. A resample keeps
// 3 or more distinct runs of a family's 4 in 66% of draws, of both in 43%:
// the joint bootstrap must not need 3 points per family in every resample
// (it needs the joint law determined), or the fit fails as a whole.
TEST(SharedEFitTest, FourRunsPerFamilyBootstrapWhereEachFamilyAloneWould) {
  const ByFamily runs = {
      {"lstm", SimulatePowerLawRuns(kLstm, LogSpaced(1e15, 1e17, 4), 0.005, 3, 0, 0, "lstm")},
      {"transformer", SimulatePowerLawRuns(kTransformer, LogSpaced(1e15, 1e17, 4), 0.005, 4, 0, 0,
                                           "transformer")}};
  const std::map<std::string, FitResult> fits = FitSharedE(runs, Options(200));
  for (const auto& [family, fit] : fits) {
    EXPECT_TRUE(fit.ok()) << family << ": " << fit.reason;
    EXPECT_GE(fit.bootstrap_resamples, 100) << family;
  }
}

TEST(SharedEFitTest, AFamilyWithoutRunsIsInsufficientData) {
  ByFamily runs = TwoFamilies(1);
  runs["transformer"].clear();
  const std::map<std::string, FitResult> fits = FitSharedE(runs, Options(0));
  EXPECT_EQ(fits.at("transformer").status, FitStatus::kInsufficientData);
  EXPECT_EQ(fits.at("transformer").family, "transformer");
  EXPECT_NE(fits.at("transformer").reason.find("0 points on the compute frontier"),
            std::string::npos);
  EXPECT_EQ(fits.at("lstm").status, FitStatus::kInsufficientData);
}

TEST(SharedEFitTest, OneFamilyIsInsufficientData) {
  ByFamily runs = TwoFamilies(1);
  runs.erase("transformer");
  const std::map<std::string, FitResult> fits = FitSharedE(runs, Options(0));
  ASSERT_EQ(fits.size(), 1u);
  const FitResult& lstm = fits.at("lstm");
  EXPECT_EQ(lstm.status, FitStatus::kInsufficientData);
  EXPECT_EQ(lstm.form, FitForm::kPowerLawSharedE);
  EXPECT_EQ(lstm.reason,
            "power_law_shared_e fits two or more families together (one E); this sweep has 1 "
            "family");
  EXPECT_TRUE(FitSharedE({}, Options(0)).empty());
}

TEST(SharedEFitTest, ThreeFamiliesShareOneE) {
  ByFamily runs = TwoFamilies(3);
  runs["gru"] =
      SimulatePowerLawRuns({kE, 150, 0.18}, LogSpaced(1e15, 1e18, 8), 0.005, 7, 0, 0, "gru");
  const std::map<std::string, FitResult> fits = FitSharedE(runs, Options(0));
  for (const auto& [family, fit] : fits) {
    ASSERT_TRUE(fit.ok()) << family << ": " << fit.reason;
    EXPECT_EQ(fit.details["shared_with"], nlohmann::json({"gru", "lstm", "transformer"}));
    EXPECT_NEAR(Estimate(fit, "E") / kE, 1.0, 0.03) << family;
  }
  EXPECT_NEAR(Estimate(fits.at("gru"), "alpha"), 0.18, 0.03);
}

TEST(SharedEFitTest, ResultsDoNotDependOnTheThreadCount) {
  const ByFamily runs = TwoFamilies(2);
  const std::map<std::string, FitResult> one = FitSharedE(runs, Options(40, 1));
  const std::map<std::string, FitResult> four = FitSharedE(runs, Options(40, 4));
  for (const char* family : {"lstm", "transformer"}) {
    ASSERT_TRUE(one.at(family).ok()) << one.at(family).reason;
    EXPECT_EQ(one.at(family).law, four.at(family).law) << family;
    EXPECT_EQ(one.at(family).law_samples, four.at(family).law_samples) << family;
    EXPECT_EQ(one.at(family).holdout_relative_error, four.at(family).holdout_relative_error);
  }
  // Another seed draws other resamples.
  FitOptions other = Options(40, 1);
  other.seed = 2;
  EXPECT_NE(FitSharedE(runs, other).at("lstm").law_samples, one.at("lstm").law_samples);
}

TEST(SharedEFitTest, LossCurvesJoinTheFrontierWhenAsked) {
  ByFamily runs;
  runs["lstm"] = SimulatePowerLawRuns(kLstm, LogSpaced(1e16, 1e19, 3), 0.0, 1, /*curve_points=*/10,
                                      /*curve_gap=*/0.0, "lstm");
  runs["transformer"] = SimulatePowerLawRuns(kTransformer, LogSpaced(1e16, 1e19, 3), 0.0, 2,
                                             /*curve_points=*/10, /*curve_gap=*/0.0, "transformer");
  FitOptions options = Options(0);
  EXPECT_EQ(FitSharedE(runs, options).at("lstm").details["frontier_points"], 3);
  options.frontier_uses_curves = true;
  const std::map<std::string, FitResult> fits = FitSharedE(runs, options);
  ASSERT_TRUE(fits.at("lstm").ok()) << fits.at("lstm").reason;
  EXPECT_GT(fits.at("lstm").details["frontier_points"].get<int>(), 10);
  EXPECT_NEAR(Estimate(fits.at("lstm"), "E"), kE, 1e-3);
  EXPECT_NEAR(Estimate(fits.at("transformer"), "alpha"), kTransformer.alpha, 1e-3);
}

}  // namespace
}  // namespace ladder::fit
