#include "server/fit/backtest.h"

#include <gtest/gtest.h>

#include <cmath>

#include "server/fit/simulated_observations.h"

namespace ladder::fit {
namespace {

const PowerLawInCompute kTruth{1.8, 50.0, 0.1};

FitOptions Options(int resamples, int threads = 2) {
  FitOptions options;
  options.threads = threads;
  options.bootstrap_resamples = resamples;
  return options;
}

std::vector<const BacktestPrediction*> AllPredictions(const BacktestResult& result) {
  std::vector<const BacktestPrediction*> out;
  for (const BacktestCut& cut : result.cuts) {
    for (const BacktestPrediction& p : cut.predictions) out.push_back(&p);
  }
  return out;
}

// SIMULATION: 12 runs on L(C) = 1.8 + 50 C^-0.1 with 1% log-normal noise,
// 8 cuts, 36 predictions at factors 2.3x to 810x, for each of seeds 1..6.
// `covered` checks the one-run interval (the law's bootstrap uncertainty plus
// the fit's residual scatter, LossPrediction::run_loss), since each measured
// loss carries its own noise. Over the 6 seeds together it must cover >= 90%
// of the measured losses, while the same interval narrowed to a central 50%
// one must not (so quantiles taken wrongly fail), and the law's own interval
// must cover the true law >= 90%. (The law's interval alone covered the
// measured losses in 0.88 on average over seeds 1..20, 0.61 at worst: it
// leaves out the run's noise.)
TEST(BacktestTest, SimulatedPowerLawErrorsShrinkToTheNoiseAndIntervalsCover) {
  const double sigma = 0.01;
  int n = 0, covered = 0, covered_narrow = 0, covered_truth = 0;
  const double narrow = 0.674 / 1.96;
  absl::StatusOr<BacktestResult> result;
  for (uint64_t seed = 6; seed >= 1; --seed) {  // ends on seed 1, checked below
    const std::vector<Observation> runs =
        SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 12), sigma, seed);
    result = Backtest(FitForm::kPowerLawCompute, runs, {}, Options(60));
    ASSERT_TRUE(result.ok()) << result.status();
    ASSERT_EQ(result->cuts.size(), 8u);  // cuts at the 4th to the 11th compute
    for (const BacktestPrediction* p : AllPredictions(*result)) {
      ++n;
      covered += p->covered ? 1 : 0;
      const Interval& run = p->run_interval;
      const double lo = std::log(run.estimate / run.lower);
      const double hi = std::log(run.upper / run.estimate);
      covered_narrow += p->actual_loss >= run.estimate * std::exp(-narrow * lo) &&
                        p->actual_loss <= run.estimate * std::exp(narrow * hi);
      const double truth = kTruth.Loss(p->compute);
      covered_truth += p->predicted.lower <= truth && truth <= p->predicted.upper;
    }
  }
  ASSERT_GT(n, 200);
  const double coverage = static_cast<double>(covered) / n;
  RecordProperty("coverage", std::to_string(coverage));
  RecordProperty("coverage_of_50pc_intervals", std::to_string(double(covered_narrow) / n));
  RecordProperty("coverage_of_true_law", std::to_string(double(covered_truth) / n));
  EXPECT_GE(coverage, 0.9) << covered << " of " << n;
  EXPECT_LT(static_cast<double>(covered_narrow) / n, 0.9) << covered_narrow << " of " << n;
  EXPECT_GE(static_cast<double>(covered_truth) / n, 0.9) << covered_truth << " of " << n;

  // Errors grow with the extrapolation factor and, at the smallest factors
  // (most runs fitted), shrink to the noise: mean |error| within 2 sigma.
  const std::vector<BacktestFactorBin>& bins = result->by_factor;
  ASSERT_GE(bins.size(), 3u);
  EXPECT_EQ(bins.front().min_factor, 1.0);
  EXPECT_LT(bins.front().mean_abs_relative_error, 2 * sigma);
  EXPECT_LT(bins.front().max_abs_relative_error, 4 * sigma);
  EXPECT_LT(bins.front().mean_abs_relative_error, bins.back().mean_abs_relative_error);
  // The last cut predicts the largest run from all the others.
  const BacktestCut& last = result->cuts.back();
  ASSERT_EQ(last.predictions.size(), 1u);
  EXPECT_LT(std::abs(last.predictions[0].relative_error), 3 * sigma);
}

// SIMULATION: a 4 x 3 grid of (N, D) on Hoffmann et al.'s published law with
// 0.5% noise. N and D are log-spaced with the same ratio (100^(1/3)), so 6ND
// takes 6 distinct values (i + j); the first cut with the chinchilla fit's 8
// runs is the 4th (9 runs), and cuts 4 and 5 predict the runs beyond them at
// their own N and D, up to 100^(2/3) = 21.5x in compute.
TEST(BacktestTest, SimulatedChinchillaGridPredictsLaterRunsWithinAFewPercent) {
  const std::vector<double> sizes = LogSpaced(1e7, 1e9, 4);
  const std::vector<double> tokens = LogSpaced(2e8, 2e8 * sizes[2] / sizes[0], 3);
  const std::vector<Observation> runs =
      SimulateGrid(PublishedChinchillaLaw(), sizes, tokens, /*sigma=*/0.005, /*seed=*/3);
  FitOptions options = Options(8);
  options.flops_count = FlopsCount::kSixND;
  const absl::StatusOr<BacktestResult> result = Backtest(FitForm::kChinchilla, runs, {}, options);
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->cuts.size(), 2u);
  const int fitted[] = {9, 11};
  for (int k = 0; k < 2; ++k) {
    const BacktestCut& cut = result->cuts[k];
    ASSERT_EQ(cut.status, FitStatus::kOk) << cut.reason;
    EXPECT_EQ(cut.runs_fitted, fitted[k]);
    EXPECT_EQ(static_cast<int>(cut.predictions.size()), 12 - fitted[k]);
    EXPECT_FALSE(cut.parameters.empty());
  }
  double largest_factor = 0, max_abs_error = 0;
  for (const BacktestPrediction* p : AllPredictions(*result)) {
    EXPECT_LT(std::abs(p->relative_error), 0.03)
        << "run " << p->run_id << " at factor " << p->extrapolation_factor;
    EXPECT_NEAR(p->relative_error, (p->predicted.estimate - p->actual_loss) / p->actual_loss,
                1e-12);
    largest_factor = std::max(largest_factor, p->extrapolation_factor);
    max_abs_error = std::max(max_abs_error, std::abs(p->relative_error));
  }
  EXPECT_NEAR(largest_factor, std::pow(100.0, 2.0 / 3), 1e-6);
  RecordProperty("max_abs_relative_error", std::to_string(max_abs_error));
}

// Noise-free runs and no bootstrap: the structure alone.
TEST(BacktestTest, CutsRunFromTheFirstFittableComputeToAllButTheLargest) {
  std::vector<Observation> runs = SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 9), 0.0, 1);
  Observation twin = runs[5];  // a second run at the 6th compute: one cut, two runs
  twin.run_id = 100;
  twin.loss *= 1.01;
  runs.push_back(twin);
  const absl::StatusOr<BacktestResult> result =
      Backtest(FitForm::kPowerLawCompute, runs, {}, Options(0));
  ASSERT_TRUE(result.ok()) << result.status();
  EXPECT_EQ(result->form, FitForm::kPowerLawCompute);
  // 9 distinct computes: cuts at the 4th (the fit's 4 frontier points) to the 8th.
  ASSERT_EQ(result->cuts.size(), 5u);
  const int fitted[] = {4, 5, 7, 8, 9};
  for (size_t k = 0; k < result->cuts.size(); ++k) {
    const BacktestCut& cut = result->cuts[k];
    EXPECT_EQ(cut.family, "simulated");
    EXPECT_EQ(cut.status, FitStatus::kOk) << cut.reason;
    EXPECT_EQ(cut.runs_fitted, fitted[k]);
    EXPECT_EQ(cut.cut_compute, ComputeOf(runs[3 + k], FlopsCount::kExact));
    EXPECT_EQ(static_cast<int>(cut.predictions.size()), 10 - fitted[k]);
    if (k > 0) EXPECT_GT(cut.cut_compute, result->cuts[k - 1].cut_compute);
    for (const BacktestPrediction& p : cut.predictions) {
      EXPECT_GT(p.extrapolation_factor, 1.0);
      EXPECT_GT(p.compute, cut.cut_compute);
      EXPECT_DOUBLE_EQ(p.extrapolation_factor, p.compute / cut.cut_compute);
      // No bootstrap: no law interval (the one-run interval is then the point
      // law scattered by the residuals alone).
      EXPECT_TRUE(std::isnan(p.predicted.lower));
      if (p.run_id != 100) EXPECT_LT(std::abs(p.relative_error), 1e-6);
    }
  }
}

TEST(BacktestTest, CutsTheFitCannotUseAreReportedWithTheirStatus) {
  // The 4th run's loss rises above the 3rd's: at the 4th cut the frontier has
  // 3 points (insufficient_data), from the 5th on it has 4.
  std::vector<Observation> runs = SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 7), 0.0, 1);
  runs[3].loss = runs[2].loss * 1.05;
  const absl::StatusOr<BacktestResult> result =
      Backtest(FitForm::kPowerLawCompute, runs, {}, Options(0));
  ASSERT_TRUE(result.ok()) << result.status();
  ASSERT_EQ(result->cuts.size(), 3u);
  EXPECT_EQ(result->cuts[0].status, FitStatus::kInsufficientData);
  EXPECT_NE(result->cuts[0].reason.find("frontier"), std::string::npos) << result->cuts[0].reason;
  EXPECT_EQ(result->cuts[0].runs_fitted, 4);
  EXPECT_TRUE(result->cuts[0].predictions.empty());
  EXPECT_EQ(result->cuts[1].status, FitStatus::kOk) << result->cuts[1].reason;
  EXPECT_EQ(result->cuts[1].predictions.size(), 2u);

  // Too few runs for any cut: none, and no error.
  const std::vector<Observation> three(runs.begin(), runs.begin() + 3);
  const absl::StatusOr<BacktestResult> none =
      Backtest(FitForm::kPowerLawCompute, three, {}, Options(0));
  ASSERT_TRUE(none.ok()) << none.status();
  EXPECT_TRUE(none->cuts.empty());
  EXPECT_TRUE(none->by_factor.empty());
}

TEST(BacktestTest, FamiliesAreChosenByNameAndUnknownOnesRefused) {
  std::vector<Observation> runs =
      SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 6), 0.0, 1, 0, 0.05, "lstm");
  for (const Observation& run :
       SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 5), 0.0, 1, 0, 0.05, "transformer")) {
    runs.push_back(run);
  }
  const absl::StatusOr<BacktestResult> both =
      Backtest(FitForm::kPowerLawCompute, runs, {}, Options(0));
  ASSERT_TRUE(both.ok()) << both.status();
  ASSERT_EQ(both->cuts.size(), 3u);  // lstm: 4th and 5th compute; transformer: 4th
  EXPECT_EQ(both->cuts[0].family, "lstm");
  EXPECT_EQ(both->cuts[1].family, "lstm");
  EXPECT_EQ(both->cuts[2].family, "transformer");

  const absl::StatusOr<BacktestResult> one =
      Backtest(FitForm::kPowerLawCompute, runs, {"transformer"}, Options(0));
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->cuts.size(), 1u);
  EXPECT_EQ(one->cuts[0].family, "transformer");

  const absl::StatusOr<BacktestResult> unknown =
      Backtest(FitForm::kPowerLawCompute, runs, {"rwkv"}, Options(0));
  ASSERT_FALSE(unknown.ok());
  EXPECT_EQ(unknown.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(unknown.status().message().find("'rwkv'"), std::string::npos) << unknown.status();
  EXPECT_NE(unknown.status().message().find("lstm, transformer"), std::string::npos)
      << unknown.status();
}

// SIMULATION, noise-free: two families on one floor E = 0.9, 8 runs each,
// the transformer's computes 1.5x the LSTM's. Backtesting the transformer
// with power_law_shared_e refits both families at each of its cuts, the LSTM
// with its runs up to the same compute; the shared fit needs 3 frontier
// points in two families. Backtesting the LSTM at its 3rd compute leaves the
// transformer 2 runs below it: that cut is insufficient_data.
TEST(BacktestTest, SharedEFitsEveryFamilyUpToTheCut) {
  const PowerLawInCompute lstm{0.9, 60, 0.15}, transformer{0.9, 400, 0.22};
  std::vector<Observation> runs =
      SimulatePowerLawRuns(lstm, LogSpaced(1e15, 1e19, 8), 0.0, 1, 0, 0, "lstm");
  for (const Observation& run : SimulatePowerLawRuns(transformer, LogSpaced(1.5e15, 1.5e19, 8), 0.0,
                                                     1, 0, 0, "transformer")) {
    runs.push_back(run);
  }
  const absl::StatusOr<BacktestResult> t =
      Backtest(FitForm::kPowerLawSharedE, runs, {"transformer"}, Options(0));
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->form, FitForm::kPowerLawSharedE);
  ASSERT_EQ(t->cuts.size(), 5u);  // the transformer's 3rd to 7th compute
  for (const BacktestCut& cut : t->cuts) {
    EXPECT_EQ(cut.family, "transformer");
    ASSERT_EQ(cut.status, FitStatus::kOk) << cut.reason;
    for (const BacktestPrediction& p : cut.predictions) {
      EXPECT_LT(std::abs(p.relative_error), 1e-3) << "factor " << p.extrapolation_factor;
    }
  }

  const absl::StatusOr<BacktestResult> l =
      Backtest(FitForm::kPowerLawSharedE, runs, {"lstm"}, Options(0));
  ASSERT_TRUE(l.ok()) << l.status();
  ASSERT_EQ(l->cuts.size(), 5u);
  EXPECT_EQ(l->cuts[0].status, FitStatus::kInsufficientData);
  EXPECT_FALSE(l->cuts[0].reason.empty());
  EXPECT_TRUE(l->cuts[0].predictions.empty());
  EXPECT_EQ(l->cuts[1].status, FitStatus::kOk) << l->cuts[1].reason;
}

TEST(BacktestTest, IsoflopHasNoLossLawToBacktest) {
  const std::vector<Observation> runs =
      SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 6), 0.0, 1);
  const absl::StatusOr<BacktestResult> result = Backtest(FitForm::kIsoflop, runs, {}, Options(0));
  ASSERT_FALSE(result.ok());
  EXPECT_EQ(result.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(result.status().message().find("isoflop"), std::string::npos) << result.status();
  EXPECT_NE(result.status().message().find("no loss law"), std::string::npos) << result.status();
}

TEST(BacktestTest, ResultDoesNotDependOnThreadCount) {
  const std::vector<Observation> runs =
      SimulatePowerLawRuns(kTruth, LogSpaced(1e15, 1e19, 9), 0.01, 4);
  const absl::StatusOr<BacktestResult> a =
      Backtest(FitForm::kPowerLawCompute, runs, {}, Options(12, /*threads=*/1));
  const absl::StatusOr<BacktestResult> b =
      Backtest(FitForm::kPowerLawCompute, runs, {}, Options(12, /*threads=*/2));
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->cuts.size(), b->cuts.size());
  for (size_t k = 0; k < a->cuts.size(); ++k) {
    const BacktestCut &x = a->cuts[k], &y = b->cuts[k];
    EXPECT_EQ(x.status, y.status);
    EXPECT_EQ(x.cut_compute, y.cut_compute);
    ASSERT_EQ(x.parameters.size(), y.parameters.size());
    for (size_t i = 0; i < x.parameters.size(); ++i) {
      EXPECT_EQ(x.parameters[i].value.estimate, y.parameters[i].value.estimate);
      EXPECT_EQ(x.parameters[i].value.lower, y.parameters[i].value.lower);
    }
    ASSERT_EQ(x.predictions.size(), y.predictions.size());
    for (size_t i = 0; i < x.predictions.size(); ++i) {
      EXPECT_EQ(x.predictions[i].predicted.estimate, y.predictions[i].predicted.estimate);
      EXPECT_EQ(x.predictions[i].predicted.lower, y.predictions[i].predicted.lower);
      EXPECT_EQ(x.predictions[i].predicted.upper, y.predictions[i].predicted.upper);
    }
  }
  ASSERT_EQ(a->by_factor.size(), b->by_factor.size());
  for (size_t j = 0; j < a->by_factor.size(); ++j) {
    EXPECT_EQ(a->by_factor[j].mean_abs_relative_error, b->by_factor[j].mean_abs_relative_error);
    EXPECT_EQ(a->by_factor[j].coverage, b->by_factor[j].coverage);
  }
}

TEST(BacktestTest, BinsAreHalfDecadesOfTheFactorFromOne) {
  auto prediction = [](double factor, double error, bool covered) {
    BacktestPrediction p;
    p.extrapolation_factor = factor;
    p.relative_error = error;
    p.covered = covered;
    return p;
  };
  const double root10 = std::pow(10.0, 0.5);
  BacktestCut a, b;
  a.predictions = {prediction(1.0, 0.01, true),
                   prediction(std::nextafter(root10, 0.0), -0.03, false),
                   prediction(root10, 0.02, true)};
  b.predictions = {prediction(9.999, -0.04, true), prediction(10.0, 0.05, false),
                   prediction(400.0, -0.1, true)};
  const std::vector<BacktestFactorBin> bins = BinByFactor({a, b});
  // [1, 10^0.5), [10^0.5, 10), [10, 10^1.5) and [10^2.5, 1000): the empty
  // bins between are left out.
  ASSERT_EQ(bins.size(), 4u);
  EXPECT_EQ(bins[0].min_factor, 1.0);
  EXPECT_EQ(bins[0].max_factor, root10);
  EXPECT_EQ(bins[0].predictions, 2);
  EXPECT_DOUBLE_EQ(bins[0].mean_abs_relative_error, 0.02);
  EXPECT_DOUBLE_EQ(bins[0].max_abs_relative_error, 0.03);
  EXPECT_DOUBLE_EQ(bins[0].mean_relative_error, -0.01);
  EXPECT_DOUBLE_EQ(bins[0].coverage, 0.5);

  EXPECT_EQ(bins[1].min_factor, root10);  // an edge belongs to the bin above it
  EXPECT_EQ(bins[1].max_factor, 10.0);
  EXPECT_EQ(bins[1].predictions, 2);
  EXPECT_DOUBLE_EQ(bins[1].mean_relative_error, -0.01);
  EXPECT_DOUBLE_EQ(bins[1].coverage, 1.0);

  EXPECT_EQ(bins[2].min_factor, 10.0);
  EXPECT_EQ(bins[2].predictions, 1);
  EXPECT_DOUBLE_EQ(bins[2].coverage, 0.0);

  EXPECT_DOUBLE_EQ(bins[3].min_factor, std::pow(10.0, 2.5));
  EXPECT_DOUBLE_EQ(bins[3].max_factor, 1000.0);
  EXPECT_DOUBLE_EQ(bins[3].mean_abs_relative_error, 0.1);

  EXPECT_TRUE(BinByFactor({}).empty());
}

}  // namespace
}  // namespace ladder::fit
