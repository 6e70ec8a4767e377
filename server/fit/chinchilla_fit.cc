#include "server/fit/chinchilla_fit.h"

#include <algorithm>
#include <cmath>

#include "server/fit/approach3.h"
#include "server/fit/bootstrap.h"
#include "server/fit/fit_support.h"
#include "server/fit/law_vector.h"
#include "server/fit/usable_runs.h"

namespace ladder::fit {

namespace {

constexpr int kMinRuns = 8;
constexpr int kMinDistinct = 3;
constexpr double kMaxAbsCorrelation = 0.999;

double Correlation(const std::vector<double>& x, const std::vector<double>& y) {
  const double n = static_cast<double>(x.size());
  double mx = 0, my = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    mx += x[i] / n;
    my += y[i] / n;
  }
  double sxy = 0, sxx = 0, syy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxy += (x[i] - mx) * (y[i] - my);
    sxx += (x[i] - mx) * (x[i] - mx);
    syy += (y[i] - my) * (y[i] - my);
  }
  if (sxx <= 0 || syy <= 0) return 1.0;
  return sxy / std::sqrt(sxx * syy);
}

// Per-run columns the fit works on.
struct Columns {
  std::vector<double> log_n, log_d, log_l, params, tokens;
};

Columns ColumnsOf(const std::vector<Observation>& runs) {
  const size_t n = runs.size();
  Columns c;
  for (auto* column : {&c.log_n, &c.log_d, &c.log_l, &c.params, &c.tokens}) column->resize(n);
  for (size_t i = 0; i < n; ++i) {
    c.params[i] = runs[i].params;
    c.tokens[i] = runs[i].tokens;
    c.log_n[i] = std::log(runs[i].params);
    c.log_d[i] = std::log(runs[i].tokens);
    c.log_l[i] = std::log(runs[i].loss);
  }
  return c;
}

// Why these runs cannot separate the N and D terms (too few distinct values,
// or log N and log D collinear); empty when they can. Records the
// correlation once it is computed.
std::string SeparabilityProblem(const Columns& c, FitResult* result) {
  if (std::string why =
          internal::TooFewDistinctReason(c.params, c.tokens, "chinchilla", kMinDistinct);
      !why.empty()) {
    return why;
  }
  const double corr = Correlation(c.log_n, c.log_d);
  result->details["log_params_log_tokens_correlation"] = corr;
  if (std::abs(corr) <= kMaxAbsCorrelation) return "";
  return "log N and log D are collinear (correlation " + internal::Describe(corr) +
         "): runs at one tokens-per-parameter ratio cannot separate the N and D terms; add runs "
         "off that line or fit power_law_compute";
}

// Why `law` is not a usable fit; empty when it is.
std::string LawProblem(const ChinchillaLaw& law) {
  if (law.alpha > 0 && law.beta > 0 && std::isfinite(law.A) && std::isfinite(law.B) &&
      std::isfinite(law.E)) {
    return "";
  }
  return "best fit has alpha = " + internal::Describe(law.alpha) +
         ", beta = " + internal::Describe(law.beta) +
         ": loss does not fall with both N and D over these runs";
}

}  // namespace

FitResult FitChinchilla(const std::vector<Observation>& input, const FitOptions& options) {
  internal::Stopwatch clock;
  FitResult result;
  result.form = FitForm::kChinchilla;
  result.flops_count = FlopsCount::kSixND;

  UsableRuns usable = SelectUsableRuns(input, FlopsCount::kSixND);
  internal::RecordUsable(usable, &result);
  if (!usable.error.empty()) {
    return internal::Finish(result, FitStatus::kFailed, usable.error, clock);
  }
  internal::CapRuns(options, &usable, &result);
  const std::vector<Observation>& runs = usable.runs;
  const int n = static_cast<int>(runs.size());
  if (n < kMinRuns) {
    return internal::Finish(
        result, FitStatus::kInsufficientData,
        internal::TooFewRunsReason(n, usable.dropped_reason, "chinchilla", kMinRuns), clock);
  }
  const Columns c = ColumnsOf(runs);
  if (std::string why = SeparabilityProblem(c, &result); !why.empty()) {
    return internal::Finish(result, FitStatus::kInsufficientData, why, clock);
  }
  for (const Observation& run : runs) {
    internal::RecordScale(ComputeOf(run, FlopsCount::kSixND), run.params * run.tokens, &result);
  }

  // The full grid on all runs (or on a screen of them: SolveApproach3Grid).
  const std::vector<std::vector<double>>& grid = Approach3StartGrid();
  const LogSpaceRuns all = MakeLogSpaceRuns(c.log_n, c.log_d, c.log_l);
  int grid_runs = 0;
  const std::optional<Approach3Solution> best =
      SolveApproach3Grid(all, grid, options, std::max(1, options.warm_starts), &grid_runs);
  result.details["starts"] = grid.size();
  result.details["grid_runs"] = grid_runs;
  result.details["grid_seconds"] = clock.Seconds();
  if (!best) {
    return internal::Finish(result, FitStatus::kFailed,
                            "no start of the grid reached a finite objective", clock);
  }
  const ChinchillaLaw law = LawFromTheta(best->theta);
  result.law = ToVector(law);
  result.details["starts_converged"] = best->converged;
  result.details["objective"] = best->cost;
  result.details["huber_delta"] = options.huber_delta;

  std::vector<double> residuals(n);
  for (int i = 0; i < n; ++i) {
    residuals[i] = std::log(law.Loss(c.params[i], c.tokens[i])) - c.log_l[i];
  }
  result.rmse_log_loss = internal::Rmse(residuals);
  result.parameters = ReportedParameters(FitForm::kChinchilla, result.law, {});
  if (std::string why = LawProblem(law); !why.empty()) {
    return internal::Finish(result, FitStatus::kFailed, why, clock);
  }

  // Starts of every refit.
  const std::vector<std::vector<double>>& warm = best->distinct_optima;
  auto refit_starts = [&](uint64_t seed) {
    return options.full_grid_refits ? grid
                                    : RefitStarts(warm, grid, options.extra_grid_starts, seed);
  };
  result.details["refit_starts"] = options.full_grid_refits
                                       ? std::string("full grid")
                                       : std::to_string(warm.size()) + " best distinct optima + " +
                                             std::to_string(options.extra_grid_starts) +
                                             " random grid points";

  // Holdout: fit without the largest-compute run, predict it.
  const double holdout_start = clock.Seconds();
  if (options.holdout && n - 1 >= kMinRuns) {
    internal::RecordHoldout(
        runs, FlopsCount::kSixND,
        [&](const std::vector<int>& counts, int held) -> std::optional<double> {
          const LogSpaceRuns rest = MakeLogSpaceRuns(c.log_n, c.log_d, c.log_l, counts);
          const std::optional<Approach3Solution> fit = SolveApproach3(
              rest, refit_starts(ResampleSeed(options.seed, -1, 1)), options, options.threads);
          if (!fit) return std::nullopt;
          return LawFromTheta(fit->theta).Loss(c.params[held], c.tokens[held]);
        },
        &result);
  }
  result.details["holdout_seconds"] = clock.Seconds() - holdout_start;

  // Bootstrap over runs.
  const double bootstrap_start = clock.Seconds();
  const BootstrapOutcome outcome = RunBootstrap(
      options.bootstrap_resamples, options.threads,
      [&](int k) -> std::optional<std::vector<double>> {
        const LogSpaceRuns data =
            MakeLogSpaceRuns(c.log_n, c.log_d, c.log_l, ResampleCounts(n, options.seed, k));
        const std::optional<Approach3Solution> fit =
            SolveApproach3(data, refit_starts(ResampleSeed(options.seed, k, 1)), options, 1);
        if (!fit) return std::nullopt;
        return ToVector(LawFromTheta(fit->theta));
      });
  result.details["bootstrap_seconds"] = clock.Seconds() - bootstrap_start;
  const std::string bootstrap_problem = internal::AcceptBootstrap(outcome, options, &result);
  result.parameters = ReportedParameters(FitForm::kChinchilla, result.law, result.law_samples);
  if (!bootstrap_problem.empty()) {
    return internal::Finish(result, FitStatus::kFailed, bootstrap_problem, clock);
  }
  return internal::Finish(result, FitStatus::kOk, "", clock);
}

}  // namespace ladder::fit
