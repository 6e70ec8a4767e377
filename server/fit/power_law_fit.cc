#include "server/fit/power_law_fit.h"

#include <ceres/ceres.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "server/fit/bootstrap.h"
#include "server/fit/compute_frontier.h"
#include "server/fit/fit_support.h"
#include "server/fit/law_vector.h"
#include "server/fit/usable_runs.h"

namespace ladder::fit {

namespace {

// A fit needs 4 frontier points (3 parameters + 1). A bootstrap resample of a
// small ladder often repeats runs; it may refit from 3 distinct points (the law
// is then determined exactly), so that 5-8 run ladders still get intervals.
constexpr int kMinFrontierPoints = 4;
constexpr int kMinResampleFrontierPoints = 3;

// r = log(E + exp(k - alpha x)) - log L, with x = log(C / C_ref), p = (E, k, alpha).
struct LogResidual {
  LogResidual(double x_in, double log_loss_in) : x(x_in), log_loss(log_loss_in) {}
  template <typename T>
  bool operator()(const T* p, T* r) const {
    r[0] = log(p[0] + exp(p[1] - p[2] * x)) - log_loss;
    return true;
  }
  double x, log_loss;
};

struct Solution {
  PowerLawInCompute law;
  double cost = 0;
};

// Least squares from a grid of starts (plus `extra_start`, a law, when given).
std::optional<Solution> Solve(const std::vector<FrontierPoint>& frontier,
                              const std::optional<PowerLawInCompute>& extra_start) {
  const int n = static_cast<int>(frontier.size());
  double log_ref = 0, min_loss = std::numeric_limits<double>::infinity();
  for (const FrontierPoint& p : frontier) {
    log_ref += std::log(p.compute) / n;
    min_loss = std::min(min_loss, p.loss);
  }
  std::vector<double> x(n), log_l(n);
  for (int i = 0; i < n; ++i) {
    x[i] = std::log(frontier[i].compute) - log_ref;
    log_l[i] = std::log(frontier[i].loss);
  }

  std::vector<std::array<double, 3>> starts;
  if (extra_start && extra_start->A > 0 && std::isfinite(extra_start->A)) {
    starts.push_back({std::max(0.0, extra_start->E),
                      std::log(extra_start->A) - extra_start->alpha * log_ref, extra_start->alpha});
  }
  for (double e_frac : {0.0, 0.5, 0.8, 0.95}) {
    for (double alpha : {0.02, 0.05, 0.1, 0.2, 0.4, 0.8}) {
      const double e = e_frac * min_loss;
      double k = 0;
      for (int i = 0; i < n; ++i) {
        k += (std::log(std::max(frontier[i].loss - e, 1e-6 * frontier[i].loss)) + alpha * x[i]) / n;
      }
      starts.push_back({e, k, alpha});
    }
  }

  ceres::Solver::Options solver_options;
  solver_options.linear_solver_type = ceres::DENSE_QR;
  solver_options.max_num_iterations = 200;
  solver_options.function_tolerance = 1e-12;
  solver_options.gradient_tolerance = 1e-14;
  solver_options.parameter_tolerance = 1e-12;
  solver_options.logging_type = ceres::SILENT;
  solver_options.num_threads = 1;

  std::optional<Solution> best;
  for (const std::array<double, 3>& start : starts) {
    double p[3] = {start[0], start[1], start[2]};
    ceres::Problem problem;
    for (int i = 0; i < n; ++i) {
      problem.AddResidualBlock(
          new ceres::AutoDiffCostFunction<LogResidual, 1, 3>(new LogResidual(x[i], log_l[i])),
          nullptr, p);
    }
    problem.SetParameterLowerBound(p, 0, 0.0);  // E >= 0
    problem.SetParameterLowerBound(p, 2, 0.0);  // alpha >= 0
    problem.SetParameterUpperBound(p, 2, 10.0);
    ceres::Solver::Summary summary;
    ceres::Solve(solver_options, &problem, &summary);
    if (!summary.IsSolutionUsable() || !std::isfinite(summary.final_cost)) continue;
    if (!std::isfinite(p[0]) || !std::isfinite(p[1]) || !std::isfinite(p[2])) continue;
    if (best && summary.final_cost >= best->cost) continue;
    Solution s;
    s.cost = summary.final_cost;
    s.law.E = p[0];
    s.law.alpha = p[2];
    s.law.A = std::exp(p[1] + p[2] * log_ref);  // A C^-alpha = e^k (C/C_ref)^-alpha
    if (!std::isfinite(s.law.A)) continue;
    best = s;
  }
  return best;
}

}  // namespace

FitResult FitPowerLawCompute(const std::vector<Observation>& input, const FitOptions& options) {
  internal::Stopwatch clock;
  FitResult result;
  result.form = FitForm::kPowerLawCompute;
  result.flops_count = options.flops_count;
  const bool curves = options.frontier_uses_curves;
  result.details["use_curves"] = curves;

  const UsableRuns usable = SelectUsableRuns(input, options.flops_count);
  internal::RecordUsable(usable, &result);
  if (!usable.error.empty()) {
    return internal::Finish(result, FitStatus::kFailed, usable.error, clock);
  }
  const std::vector<Observation>& runs = usable.runs;
  const int n = static_cast<int>(runs.size());

  const std::vector<FrontierPoint> frontier = ComputeFrontier(runs, options.flops_count, curves);
  result.details["frontier_points"] = frontier.size();
  if (static_cast<int>(frontier.size()) < kMinFrontierPoints) {
    std::string why = std::to_string(frontier.size()) + " points on the compute frontier from " +
                      std::to_string(n) + " usable runs";
    if (!usable.dropped_reason.empty()) why += " (dropped " + usable.dropped_reason + ")";
    return internal::Finish(
        result, FitStatus::kInsufficientData,
        why + "; power_law_compute needs at least " + std::to_string(kMinFrontierPoints), clock);
  }
  for (const Observation& run : runs) {
    internal::RecordScale(ComputeOf(run, options.flops_count), run.params * run.tokens, &result);
  }
  {
    int frontier_runs = 0;
    std::vector<bool> seen(n, false);
    for (const FrontierPoint& p : frontier) {
      if (!seen[p.run]) ++frontier_runs;
      seen[p.run] = true;
    }
    result.details["frontier_runs"] = frontier_runs;
  }

  const std::optional<Solution> best = Solve(frontier, std::nullopt);
  if (!best) {
    return internal::Finish(result, FitStatus::kFailed, "no start converged to a finite fit",
                            clock);
  }
  result.law = ToVector(best->law);
  std::vector<double> residuals;
  for (const FrontierPoint& p : frontier) {
    residuals.push_back(std::log(best->law.Loss(p.compute)) - std::log(p.loss));
  }
  result.rmse_log_loss = internal::Rmse(residuals);
  result.parameters = ReportedParameters(FitForm::kPowerLawCompute, result.law, {});
  if (!(best->law.alpha > 1e-9)) {
    return internal::Finish(result, FitStatus::kFailed,
                            "fitted alpha = 0: loss does not fall with compute on the frontier",
                            clock);
  }

  if (options.holdout) {
    internal::RecordHoldout(
        runs, options.flops_count,
        [&](const std::vector<int>& counts, int held) -> std::optional<double> {
          const std::vector<FrontierPoint> rest =
              ComputeFrontier(runs, options.flops_count, curves, counts);
          if (static_cast<int>(rest.size()) < kMinFrontierPoints) return std::nullopt;
          const std::optional<Solution> fit = Solve(rest, best->law);
          if (!fit) return std::nullopt;
          return fit->law.Loss(ComputeOf(runs[held], options.flops_count));
        },
        &result);
  }

  const BootstrapOutcome outcome =
      RunBootstrap(options.bootstrap_resamples, options.threads,
                   [&](int k) -> std::optional<std::vector<double>> {
                     const std::vector<FrontierPoint> points = ComputeFrontier(
                         runs, options.flops_count, curves, ResampleCounts(n, options.seed, k));
                     if (static_cast<int>(points.size()) < kMinResampleFrontierPoints)
                       return std::nullopt;
                     const std::optional<Solution> fit = Solve(points, best->law);
                     if (!fit) return std::nullopt;
                     return ToVector(fit->law);
                   });
  const std::string bootstrap_problem = internal::AcceptBootstrap(outcome, options, &result);
  result.parameters = ReportedParameters(FitForm::kPowerLawCompute, result.law, result.law_samples);
  if (!bootstrap_problem.empty()) {
    return internal::Finish(result, FitStatus::kFailed, bootstrap_problem, clock);
  }
  return internal::Finish(result, FitStatus::kOk, "", clock);
}

}  // namespace ladder::fit
