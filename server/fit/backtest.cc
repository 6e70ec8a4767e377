#include "server/fit/backtest.h"

#include <algorithm>
#include <cmath>
#include <set>

#include "server/fit/fit.h"
#include "server/fit/parallel.h"
#include "server/fit/prediction.h"
#include "server/fit/shared_e_fit.h"
#include "server/fit/usable_runs.h"

namespace ladder::fit {

namespace {

// Computes within this relative distance are one cut (as CountDistinct
// counts them): the runs of one IsoFLOP budget or one ladder rung.
constexpr double kSameCompute = 1e-9;

// One family's usable runs sorted by compute, grouped into distinct computes:
// the runs with C <= cut k are the first end[k] runs.
struct Ladder {
  std::vector<Observation> runs;
  std::vector<double> compute;  // of runs[i], in the options' count
  std::vector<double> cuts;     // the distinct computes, ascending
  std::vector<int> end;         // runs with compute <= cuts[k]
};

Ladder LadderOf(const std::vector<Observation>& family_runs, FlopsCount count) {
  Ladder ladder;
  ladder.runs = SelectUsableRuns(family_runs, count).runs;
  std::stable_sort(ladder.runs.begin(), ladder.runs.end(),
                   [count](const Observation& a, const Observation& b) {
                     return ComputeOf(a, count) < ComputeOf(b, count);
                   });
  for (const Observation& run : ladder.runs) {
    const double c = ComputeOf(run, count);
    ladder.compute.push_back(c);
    if (ladder.cuts.empty() || c - ladder.cuts.back() > kSameCompute * c) {
      ladder.cuts.push_back(c);
      ladder.end.push_back(0);
    }
    ++ladder.end.back();
  }
  for (size_t k = 1; k < ladder.end.size(); ++k) ladder.end[k] += ladder.end[k - 1];
  return ladder;
}

// The first cut at which `form` can possibly fit, by counting alone: below it
// the fit must return insufficient_data, so it is not tried. The counts are
// the fits' own minima (power_law_fit.cc: 4 frontier points, one per distinct
// compute without curves; chinchilla_fit.cc and data_constrained_fit.cc: 8
// runs; the shared-E fit has 2 parameters per family plus the shared E, so a
// family brings at least 3 points). With loss curves on the frontier a
// single run can bring several points, so every cut is tried.
size_t FirstCut(FitForm form, const Ladder& ladder, const FitOptions& options) {
  int min_distinct = 1, min_runs = 1;
  switch (form) {
    case FitForm::kPowerLawCompute:
      if (!options.frontier_uses_curves) min_distinct = 4;
      break;
    case FitForm::kPowerLawSharedE:
      if (!options.frontier_uses_curves) min_distinct = 3;
      break;
    case FitForm::kChinchilla:
    case FitForm::kDataConstrained:
      min_runs = 8;
      break;
    case FitForm::kIsoflop:
      break;
  }
  size_t k = static_cast<size_t>(min_distinct - 1);
  while (k < ladder.cuts.size() && ladder.end[k] < min_runs) ++k;
  return k;
}

// The runs of every family with compute <= `cut` (the shared-E fit's input at
// that cut: every family keeps its runs up to the same compute).
std::map<std::string, std::vector<Observation>> RunsUpTo(
    const std::map<std::string, Ladder>& ladders, double cut) {
  std::map<std::string, std::vector<Observation>> out;
  for (const auto& [family, ladder] : ladders) {
    std::vector<Observation>& runs = out[family];
    for (size_t i = 0; i < ladder.runs.size(); ++i) {
      if (ladder.compute[i] <= cut * (1 + kSameCompute)) runs.push_back(ladder.runs[i]);
    }
  }
  return out;
}

absl::StatusOr<LossPrediction> PredictRun(const FitResult& fit, const Observation& run,
                                          double compute) {
  if (fit.form == FitForm::kChinchilla) return PredictLoss(fit, run.params, run.tokens);
  if (fit.form == FitForm::kDataConstrained) {
    return PredictLoss(fit, run.params, run.tokens, run.unique_tokens);
  }
  return PredictLossAtCompute(fit, compute);
}

// Fits `form` at cut k of `family` and predicts every later run of it.
BacktestCut RunCut(FitForm form, const std::string& family, size_t k,
                   const std::map<std::string, Ladder>& ladders, const FitOptions& options) {
  const Ladder& ladder = ladders.at(family);
  BacktestCut cut;
  cut.family = family;
  cut.cut_compute = ladder.cuts[k];
  cut.runs_fitted = ladder.end[k];
  FitResult fit;
  if (form == FitForm::kPowerLawSharedE) {
    std::map<std::string, FitResult> fits = FitSharedE(RunsUpTo(ladders, cut.cut_compute), options);
    fit = std::move(fits[family]);
  } else {
    const std::vector<Observation> fitted(ladder.runs.begin(), ladder.runs.begin() + ladder.end[k]);
    fit = FitScalingLaw(form, fitted, options);
  }
  cut.status = fit.status;
  cut.reason = fit.reason;
  cut.parameters = fit.parameters;
  if (!fit.ok()) return cut;
  for (size_t i = ladder.end[k]; i < ladder.runs.size(); ++i) {
    const Observation& run = ladder.runs[i];
    const absl::StatusOr<LossPrediction> predicted = PredictRun(fit, run, ladder.compute[i]);
    if (!predicted.ok()) {
      // Cannot happen for an ok fit and a usable run; reported, not hidden.
      cut.status = FitStatus::kFailed;
      cut.reason = "predicting run " + std::to_string(run.run_id) + ": " +
                   std::string(predicted.status().message());
      cut.predictions.clear();
      return cut;
    }
    BacktestPrediction p;
    p.run_id = run.run_id;
    p.compute = ladder.compute[i];
    p.params = run.params;
    p.tokens = run.tokens;
    p.actual_loss = run.loss;
    p.predicted = predicted->loss;
    p.run_interval = predicted->run_loss;
    p.relative_error = (p.predicted.estimate - run.loss) / run.loss;
    // NaN bounds (no bootstrap, no residuals) compare false: not covered.
    p.covered = p.run_interval.lower <= run.loss && run.loss <= p.run_interval.upper;
    p.extrapolation_factor = p.compute / cut.cut_compute;
    cut.predictions.push_back(std::move(p));
  }
  return cut;
}

std::string JoinNames(const std::map<std::string, Ladder>& ladders) {
  std::string out;
  for (const auto& [family, ladder] : ladders) {
    out += (out.empty() ? "" : ", ") + (family.empty() ? std::string("<none>") : family);
  }
  return out.empty() ? "none (no runs)" : out;
}

// Half-decade bin index of an extrapolation factor, consistent with the edges
// 10^(j/2) that BinByFactor reports (log10 rounding at an edge is corrected).
int BinOf(double factor) {
  int j = std::max(0, static_cast<int>(std::floor(2 * std::log10(factor))));
  if (factor >= std::pow(10.0, (j + 1) / 2.0)) ++j;
  if (j > 0 && factor < std::pow(10.0, j / 2.0)) --j;
  return j;
}

}  // namespace

absl::StatusOr<BacktestResult> Backtest(FitForm form, const std::vector<Observation>& runs,
                                        const std::vector<std::string>& families,
                                        const FitOptions& options) {
  if (form == FitForm::kIsoflop) {
    return absl::InvalidArgumentError(
        "form: isoflop has no loss law to backtest (Approach 2 gives N_opt and D_opt, not a "
        "loss); backtest power_law_compute, power_law_shared_e, chinchilla or data_constrained");
  }
  if (form != FitForm::kPowerLawCompute && form != FitForm::kPowerLawSharedE &&
      form != FitForm::kChinchilla && form != FitForm::kDataConstrained) {
    return absl::InvalidArgumentError("form: unknown fit form " +
                                      std::to_string(static_cast<int>(form)));
  }
  std::map<std::string, Ladder> ladders;
  for (const auto& [family, family_runs] : GroupByFamily(runs)) {
    ladders[family] = LadderOf(family_runs, options.flops_count);
  }
  std::set<std::string> chosen(families.begin(), families.end());
  for (const std::string& family : chosen) {
    if (ladders.count(family) == 0) {
      return absl::InvalidArgumentError("family: unknown family '" + family +
                                        "'; the runs' families are: " + JoinNames(ladders));
    }
  }
  if (chosen.empty()) {
    for (const auto& [family, ladder] : ladders) chosen.insert(family);
  }

  // One fit per (family, cut), at most up to the second-largest compute so
  // that every cut has a later run to predict.
  std::vector<std::pair<std::string, size_t>> tasks;
  for (const std::string& family : chosen) {
    const Ladder& ladder = ladders.at(family);
    for (size_t k = FirstCut(form, ladder, options); k + 1 < ladder.cuts.size(); ++k) {
      tasks.emplace_back(family, k);
    }
  }

  // The backtest is the holdout; each cut's fit keeps the caller's bootstrap.
  // The cuts run in parallel, each fit on its share of the threads; fits do
  // not depend on their thread count, so neither does the result.
  FitOptions cut_options = options;
  cut_options.holdout = false;
  const int threads = ResolveThreads(options.threads);
  const int outer = std::max(1, std::min<int>(threads, static_cast<int>(tasks.size())));
  cut_options.threads = std::max(1, threads / outer);

  BacktestResult result;
  result.form = form;
  result.cuts.resize(tasks.size());
  ParallelFor(static_cast<int>(tasks.size()), outer, [&](int i, int) {
    result.cuts[i] = RunCut(form, tasks[i].first, tasks[i].second, ladders, cut_options);
  });
  result.by_factor = BinByFactor(result.cuts);
  return result;
}

std::vector<BacktestFactorBin> BinByFactor(const std::vector<BacktestCut>& cuts) {
  struct Sums {
    int n = 0, covered = 0;
    double abs_error = 0, max_abs_error = 0, error = 0;
  };
  std::map<int, Sums> bins;
  for (const BacktestCut& cut : cuts) {
    for (const BacktestPrediction& p : cut.predictions) {
      if (!std::isfinite(p.extrapolation_factor) || p.extrapolation_factor <= 0) continue;
      Sums& s = bins[BinOf(p.extrapolation_factor)];
      ++s.n;
      s.covered += p.covered ? 1 : 0;
      s.abs_error += std::abs(p.relative_error);
      s.max_abs_error = std::max(s.max_abs_error, std::abs(p.relative_error));
      s.error += p.relative_error;
    }
  }
  std::vector<BacktestFactorBin> out;
  for (const auto& [j, s] : bins) {
    BacktestFactorBin bin;
    bin.min_factor = std::pow(10.0, j / 2.0);
    bin.max_factor = std::pow(10.0, (j + 1) / 2.0);
    bin.predictions = s.n;
    bin.mean_abs_relative_error = s.abs_error / s.n;
    bin.max_abs_relative_error = s.max_abs_error;
    bin.mean_relative_error = s.error / s.n;
    bin.coverage = static_cast<double>(s.covered) / s.n;
    out.push_back(bin);
  }
  return out;
}

}  // namespace ladder::fit
