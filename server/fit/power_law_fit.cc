#include "server/fit/power_law_fit.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <optional>
#include <sstream>

#include "server/fit/bootstrap.h"
#include "server/fit/compute_frontier.h"
#include "server/fit/fit_support.h"
#include "server/fit/frontier_power_law.h"
#include "server/fit/law_vector.h"
#include "server/fit/usable_runs.h"

namespace ladder::fit {

namespace {

// A fit needs 4 frontier points (3 parameters + 1). A bootstrap resample of a
// small ladder often repeats runs; it may refit from 3 distinct points (the law
// is then determined exactly), so that 5-8 run ladders still get intervals.
constexpr int kMinFrontierPoints = 4;
constexpr int kMinResampleFrontierPoints = 3;

// The one-family case of the shared solver (frontier_power_law.h).
std::optional<PowerLawInCompute> Solve(const std::vector<FrontierPoint>& frontier,
                                       const std::optional<PowerLawInCompute>& extra_start) {
  std::vector<PowerLawInCompute> extra;
  if (extra_start) extra.push_back(*extra_start);
  const std::optional<FrontierLawSolution> s = SolveFrontierLaws({frontier}, extra);
  if (!s) return std::nullopt;
  return s->laws[0];
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
  result.details["frontier_runs"] = FrontierRuns(frontier);

  const std::optional<PowerLawInCompute> best = Solve(frontier, std::nullopt);
  if (!best) {
    return internal::Finish(result, FitStatus::kFailed, "no start converged to a finite fit",
                            clock);
  }
  result.law = ToVector(*best);
  result.rmse_log_loss = internal::Rmse(FrontierLogResiduals(*best, frontier));
  result.parameters = ReportedParameters(FitForm::kPowerLawCompute, result.law, {});
  if (!(best->alpha > 1e-9)) {
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
          const std::optional<PowerLawInCompute> fit = Solve(rest, best);
          if (!fit) return std::nullopt;
          return fit->Loss(ComputeOf(runs[held], options.flops_count));
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
                     const std::optional<PowerLawInCompute> fit = Solve(points, best);
                     if (!fit) return std::nullopt;
                     return ToVector(*fit);
                   });
  const std::string bootstrap_problem = internal::AcceptBootstrap(outcome, options, &result);
  result.parameters = ReportedParameters(FitForm::kPowerLawCompute, result.law, result.law_samples);
  if (!bootstrap_problem.empty()) {
    return internal::Finish(result, FitStatus::kFailed, bootstrap_problem, clock);
  }
  return internal::Finish(result, FitStatus::kOk, "", clock);
}

}  // namespace ladder::fit
