#include "server/fit/data_constrained_fit.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <optional>

#include "server/fit/approach3.h"
#include "server/fit/bootstrap.h"
#include "server/fit/data_constrained_objective.h"
#include "server/fit/fit_support.h"
#include "server/fit/law_vector.h"
#include "server/fit/multistart_lbfgs.h"
#include "server/fit/usable_runs.h"

namespace ladder::fit {

namespace {

constexpr int kMinRuns = 8;
constexpr int kMinDistinct = 3;
constexpr int kMinRepeatedRuns = 3;

DataConstrainedRuns MakeRuns(const std::vector<double>& log_n, const std::vector<double>& log_d,
                             const std::vector<double>& log_l, const std::vector<double>& log_u,
                             const std::vector<double>& repeats, const std::vector<int>& counts) {
  DataConstrainedRuns out;
  out.base = MakeLogSpaceRuns(log_n, log_d, log_l, counts);
  const int n = out.base.size();
  out.log_unique.resize(n);
  out.repeats.resize(n);
  int k = 0;
  for (size_t i = 0; i < log_n.size(); ++i) {
    if (!counts.empty() && counts[i] == 0) continue;
    out.log_unique[k] = log_u[i];
    out.repeats[k] = repeats[i];
    ++k;
  }
  return out;
}

struct Solution {
  std::vector<double> theta;  // 6 entries
  double cost = 0;
  std::vector<std::vector<double>> distinct_optima;
  int converged = 0;
};

std::optional<Solution> Solve6(const DataConstrainedRuns& runs,
                               const std::vector<std::vector<double>>& starts,
                               const FitOptions& options, int threads, int keep_distinct) {
  const double delta = options.huber_delta;
  const MultiStartResult r = MinimizeFromStarts(
      [&runs, delta] {
        return std::unique_ptr<ceres::FirstOrderFunction>(
            new DataConstrainedObjective(&runs, delta));
      },
      starts, options.lbfgs, threads);
  if (r.best < 0) return std::nullopt;
  Solution s;
  s.theta = r.ends[r.best].x;
  s.cost = r.ends[r.best].cost;
  s.converged = r.converged;
  s.distinct_optima = DistinctBestEnds(r, std::max(1, keep_distinct), 1e-3);
  return s;
}

DataConstrainedLaw LawOf(const std::vector<double>& theta) {
  DataConstrainedLaw law;
  law.base = LawFromTheta(theta);
  law.r_star_d = std::exp(theta[kThetaRho]);
  return law;
}

// Per-run columns the fit works on: log N, log D, log L, log U (unique
// tokens; log D for fresh data), repeats (epochs - 1), N and D.
struct Columns {
  std::vector<double> log_n, log_d, log_l, log_u, repeats, params, tokens;
  std::vector<double> repeated_counts;  // repeats of the runs that repeat data

  DataConstrainedRuns Runs(const std::vector<int>& counts) const {
    return MakeRuns(log_n, log_d, log_l, log_u, repeats, counts);
  }
};

// The columns; records each run's scale and how many repeat data.
Columns ColumnsOf(const std::vector<Observation>& runs, FitResult* result) {
  const size_t n = runs.size();
  Columns c;
  for (auto* column : {&c.log_n, &c.log_d, &c.log_l, &c.log_u, &c.repeats, &c.params, &c.tokens}) {
    column->resize(n);
  }
  for (size_t i = 0; i < n; ++i) {
    const Observation& r = runs[i];
    c.params[i] = r.params;
    c.tokens[i] = r.tokens;
    c.log_n[i] = std::log(r.params);
    c.log_d[i] = std::log(r.tokens);
    c.log_l[i] = std::log(r.loss);
    const bool repeated = r.unique_tokens > 0 && r.unique_tokens < r.tokens;
    c.log_u[i] = repeated ? std::log(r.unique_tokens) : c.log_d[i];
    c.repeats[i] = repeated ? r.tokens / r.unique_tokens - 1.0 : 0.0;
    if (repeated) c.repeated_counts.push_back(c.repeats[i]);
    internal::RecordScale(ComputeOf(r, FlopsCount::kSixND), r.params * r.tokens, result);
  }
  result->details["runs_repeating_data"] = c.repeated_counts.size();
  return c;
}

// Why these runs cannot pin down the law: too few distinct N or D, or too
// few runs repeating data over too few epoch counts for R*_D; empty when
// they can.
std::string DataProblem(const Columns& c) {
  if (std::string why =
          internal::TooFewDistinctReason(c.params, c.tokens, "data_constrained", kMinDistinct);
      !why.empty()) {
    return why;
  }
  if (static_cast<int>(c.repeated_counts.size()) >= kMinRepeatedRuns &&
      CountDistinct(c.repeated_counts) >= 2) {
    return "";
  }
  return std::to_string(c.repeated_counts.size()) +
         " runs repeat data (tokens > unique tokens) over " +
         std::to_string(CountDistinct(c.repeated_counts)) +
         " distinct epoch counts; R*_D needs at least " + std::to_string(kMinRepeatedRuns) +
         " such runs over 2 epoch counts (fit chinchilla for fresh data)";
}

// Why `law` is not a usable fit; empty when it is.
std::string LawProblem(const DataConstrainedLaw& law) {
  if (law.base.alpha > 0 && law.base.beta > 0 && std::isfinite(law.r_star_d) &&
      std::isfinite(law.base.A) && std::isfinite(law.base.B) && std::isfinite(law.base.E)) {
    return "";
  }
  return "best fit has alpha = " + internal::Describe(law.base.alpha) +
         ", beta = " + internal::Describe(law.base.beta) +
         ", R*_D = " + internal::Describe(law.r_star_d) + ": not a usable law";
}

// Starts of a refit: the six-parameter optima plus seeded grid points at
// rho0 (or the whole grid at rho0 with options.full_grid_refits).
std::vector<std::vector<double>> RefitStarts6(const FitOptions& options,
                                              const std::vector<std::vector<double>>& grid5,
                                              double rho0,
                                              const std::vector<std::vector<double>>& optima,
                                              uint64_t seed) {
  if (options.full_grid_refits) {
    std::vector<std::vector<double>> grid6;
    for (const std::vector<double>& t : grid5) {
      grid6.push_back(t);
      grid6.back().push_back(rho0);
    }
    return grid6;
  }
  std::vector<std::vector<double>> s = RefitStarts({}, grid5, options.extra_grid_starts, seed);
  for (std::vector<double>& t : s) t.push_back(rho0);
  std::vector<std::vector<double>> out = optima;
  out.insert(out.end(), s.begin(), s.end());
  return out;
}

}  // namespace

FitResult FitDataConstrained(const std::vector<Observation>& input, const FitOptions& options) {
  internal::Stopwatch clock;
  FitResult result;
  result.form = FitForm::kDataConstrained;
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
        internal::TooFewRunsReason(n, usable.dropped_reason, "data_constrained", kMinRuns), clock);
  }
  const Columns c = ColumnsOf(runs, &result);
  if (std::string why = DataProblem(c); !why.empty()) {
    return internal::Finish(result, FitStatus::kInsufficientData, why, clock);
  }

  // Stage 1: the Approach 3 grid with R*_D fixed.
  const DataConstrainedRuns all = c.Runs({});
  const double rho0 = std::log(options.initial_r_star_d);
  LogSpaceRuns stage1 = all.base;
  stage1.log_tokens = LogEffectiveTokens(all, rho0);
  const std::vector<std::vector<double>>& grid5 = Approach3StartGrid();
  const int keep = std::max(1, options.warm_starts);
  int grid_runs = 0;
  const std::optional<Approach3Solution> first =
      SolveApproach3Grid(stage1, grid5, options, keep, &grid_runs);
  if (!first) {
    return internal::Finish(result, FitStatus::kFailed,
                            "no start of the grid reached a finite objective", clock);
  }
  // Stage 2: all six parameters.
  std::vector<std::vector<double>> starts;
  for (const std::vector<double>& theta : first->distinct_optima) {
    for (double r_star : options.r_star_d_starts) {
      std::vector<double> t = theta;
      t.push_back(std::log(r_star));
      starts.push_back(t);
    }
  }
  const std::optional<Solution> best = Solve6(all, starts, options, options.threads, keep);
  if (!best) {
    return internal::Finish(result, FitStatus::kFailed,
                            "no six-parameter start reached a finite objective", clock);
  }
  const DataConstrainedLaw law = LawOf(best->theta);
  result.law = ToVector(law);
  result.details["stage1_starts"] = grid5.size();
  result.details["grid_runs"] = grid_runs;
  result.details["stage1_starts_converged"] = first->converged;
  result.details["stage2_starts"] = starts.size();
  result.details["objective"] = best->cost;
  result.details["huber_delta"] = options.huber_delta;
  result.details["excess_parameter_term"] = "not fitted (N' = N)";

  std::vector<double> residuals(n);
  for (int i = 0; i < n; ++i) {
    residuals[i] = std::log(law.Loss(c.params[i], c.tokens[i], runs[i].unique_tokens)) - c.log_l[i];
  }
  result.rmse_log_loss = internal::Rmse(residuals);
  result.parameters = ReportedParameters(FitForm::kDataConstrained, result.law, {});
  if (std::string why = LawProblem(law); !why.empty()) {
    return internal::Finish(result, FitStatus::kFailed, why, clock);
  }

  auto refit_starts = [&](uint64_t seed) {
    return RefitStarts6(options, grid5, rho0, best->distinct_optima, seed);
  };
  if (options.holdout && n - 1 >= kMinRuns) {
    internal::RecordHoldout(
        runs, FlopsCount::kSixND,
        [&](const std::vector<int>& counts, int held) -> std::optional<double> {
          const std::optional<Solution> fit =
              Solve6(c.Runs(counts), refit_starts(ResampleSeed(options.seed, -1, 1)), options,
                     options.threads, 1);
          if (!fit) return std::nullopt;
          return LawOf(fit->theta).Loss(c.params[held], c.tokens[held], runs[held].unique_tokens);
        },
        &result);
  }

  const BootstrapOutcome outcome =
      RunBootstrap(options.bootstrap_resamples, options.threads,
                   [&](int k) -> std::optional<std::vector<double>> {
                     const std::optional<Solution> fit =
                         Solve6(c.Runs(ResampleCounts(n, options.seed, k)),
                                refit_starts(ResampleSeed(options.seed, k, 1)), options, 1, 1);
                     if (!fit) return std::nullopt;
                     return ToVector(LawOf(fit->theta));
                   });
  const std::string bootstrap_problem = internal::AcceptBootstrap(outcome, options, &result);
  result.parameters = ReportedParameters(FitForm::kDataConstrained, result.law, result.law_samples);
  if (!bootstrap_problem.empty()) {
    return internal::Finish(result, FitStatus::kFailed, bootstrap_problem, clock);
  }
  return internal::Finish(result, FitStatus::kOk, "", clock);
}

}  // namespace ladder::fit
