#include "server/fit/isoflop_fit.h"

#include <Eigen/Dense>
#include <algorithm>
#include <cmath>
#include <map>
#include <optional>

#include "server/fit/bootstrap.h"
#include "server/fit/fit_support.h"
#include "server/fit/law_vector.h"
#include "server/fit/usable_runs.h"

namespace ladder::fit {

namespace {

constexpr int kMinSizesPerBudget = 3;
constexpr int kMinBudgets = 3;
// A bootstrap resample repeats sizes, so some of its budgets lose their
// parabola; it may regress over 2 budgets (the line is then determined) so
// that sweeps of 3-4 budgets with few sizes still get intervals.
constexpr int kMinResampleBudgets = 2;

// Weighted least squares of y on [1, x]; returns {intercept, slope}.
std::optional<std::pair<double, double>> LineFit(const std::vector<double>& x,
                                                 const std::vector<double>& y,
                                                 const std::vector<double>& w) {
  double sw = 0, sx = 0, sy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sw += w[i];
    sx += w[i] * x[i];
    sy += w[i] * y[i];
  }
  if (sw <= 0) return std::nullopt;
  const double mx = sx / sw, my = sy / sw;
  double sxx = 0, sxy = 0;
  for (size_t i = 0; i < x.size(); ++i) {
    sxx += w[i] * (x[i] - mx) * (x[i] - mx);
    sxy += w[i] * (x[i] - mx) * (y[i] - my);
  }
  if (!(sxx > 0)) return std::nullopt;
  const double slope = sxy / sxx;
  return std::make_pair(my - slope * mx, slope);
}

// The runs of each budget, as indices into the usable runs.
struct Budget {
  double compute = 0;
  std::vector<int> runs;
};

// Profiles of every budget with multiplicities `counts` (empty = all 1).
std::vector<IsoflopProfile> Profiles(const std::vector<Observation>& runs,
                                     const std::vector<Budget>& budgets,
                                     const std::vector<int>& counts) {
  std::vector<IsoflopProfile> out;
  for (const Budget& b : budgets) {
    std::vector<double> n, d, l, w;
    for (int i : b.runs) {
      const int c = counts.empty() ? 1 : counts[i];
      if (c == 0) continue;
      n.push_back(runs[i].params);
      d.push_back(runs[i].tokens);
      l.push_back(runs[i].loss);
      w.push_back(c);
    }
    out.push_back(FitIsoflopProfile(b.compute, n, d, l, w));
  }
  return out;
}

// The allocation law from the usable profiles (skipping `skip`, a budget
// index, when >= 0); nullopt with fewer than `min_budgets`.
std::optional<AllocationLaw> Regress(const std::vector<IsoflopProfile>& profiles, int skip,
                                     int min_budgets = kMinBudgets) {
  std::vector<double> log_c, log_n, log_d, w;
  for (int k = 0; k < static_cast<int>(profiles.size()); ++k) {
    if (k == skip || !profiles[k].ok) continue;
    log_c.push_back(std::log(profiles[k].budget));
    log_n.push_back(std::log(profiles[k].params_opt));
    log_d.push_back(std::log(profiles[k].tokens_opt));
    w.push_back(1.0);
  }
  if (static_cast<int>(log_c.size()) < min_budgets) return std::nullopt;
  const auto fn = LineFit(log_c, log_n, w);
  const auto fd = LineFit(log_c, log_d, w);
  if (!fn || !fd) return std::nullopt;
  AllocationLaw law;
  law.log_n_coefficient = fn->first;
  law.a = fn->second;
  law.log_d_coefficient = fd->first;
  law.b = fd->second;
  return law;
}

}  // namespace

IsoflopProfile FitIsoflopProfile(double budget, const std::vector<double>& params,
                                 const std::vector<double>& tokens,
                                 const std::vector<double>& losses,
                                 const std::vector<double>& weights) {
  IsoflopProfile p;
  p.budget = budget;
  p.runs = static_cast<int>(params.size());
  if (CountDistinct(params) < kMinSizesPerBudget) {
    p.problem = "fewer than 3 distinct sizes";
    return p;
  }
  const int n = static_cast<int>(params.size());
  // Centre log N for conditioning: x = log N - mean.
  double mean = 0, wsum = 0;
  for (int i = 0; i < n; ++i) {
    mean += weights[i] * std::log(params[i]);
    wsum += weights[i];
  }
  mean /= wsum;
  Eigen::MatrixXd X(n, 3);
  Eigen::VectorXd y(n);
  double x_lo = 1e300, x_hi = -1e300;
  for (int i = 0; i < n; ++i) {
    const double x = std::log(params[i]) - mean;
    const double sw = std::sqrt(weights[i]);
    X(i, 0) = sw;
    X(i, 1) = sw * x;
    X(i, 2) = sw * x * x;
    y(i) = sw * losses[i];
    x_lo = std::min(x_lo, x);
    x_hi = std::max(x_hi, x);
  }
  const Eigen::Vector3d c = X.colPivHouseholderQr().solve(y);
  if (!c.allFinite()) {
    p.problem = "parabola fit failed";
    return p;
  }
  if (!(c(2) > 0)) {
    p.problem = "loss is not convex in log N (no minimum)";
    return p;
  }
  const double x_opt = -c(1) / (2.0 * c(2));
  if (x_opt < x_lo || x_opt > x_hi) {
    p.problem = "minimum outside the sizes trained";
    return p;
  }
  // Back to uncentred coefficients: L = c0' + c1' log N + c2' (log N)^2.
  p.c2 = c(2);
  p.c1 = c(1) - 2.0 * c(2) * mean;
  p.c0 = c(0) - c(1) * mean + c(2) * mean * mean;
  p.params_opt = std::exp(x_opt + mean);
  p.loss_opt = c(0) + c(1) * x_opt + c(2) * x_opt * x_opt;
  // log D at the minimum: the weighted line of log D on log N through this budget.
  std::vector<double> ln(n), ld(n);
  for (int i = 0; i < n; ++i) {
    ln[i] = std::log(params[i]);
    ld[i] = std::log(tokens[i]);
  }
  const auto line = LineFit(ln, ld, weights);
  if (!line) {
    p.problem = "tokens do not vary along the budget";
    return p;
  }
  p.tokens_opt = std::exp(line->first + line->second * std::log(p.params_opt));
  p.ok = true;
  return p;
}

FitResult FitIsoflop(const std::vector<Observation>& input, const FitOptions& options) {
  internal::Stopwatch clock;
  FitResult result;
  result.form = FitForm::kIsoflop;
  result.flops_count = options.flops_count;

  const UsableRuns usable = SelectUsableRuns(input, options.flops_count);
  internal::RecordUsable(usable, &result);
  if (!usable.error.empty()) {
    return internal::Finish(result, FitStatus::kFailed, usable.error, clock);
  }
  // Group by budget (identical values); runs without a budget are not used.
  std::vector<Observation> runs;
  std::map<double, std::vector<int>> by_budget;
  for (const Observation& run : usable.runs) {
    if (run.budget > 0) {
      by_budget[run.budget].push_back(static_cast<int>(runs.size()));
      runs.push_back(run);
    }
  }
  result.runs_used = static_cast<int>(runs.size());
  result.details["runs_without_budget"] = usable.runs.size() - runs.size();
  std::vector<Budget> budgets;
  std::vector<int> stratum(runs.size());
  for (const auto& [c, idx] : by_budget) {
    for (int i : idx) stratum[i] = static_cast<int>(budgets.size());
    budgets.push_back({c, idx});
  }
  for (const Observation& run : runs) {
    internal::RecordScale(run.budget, run.params * run.tokens, &result);
  }

  const std::vector<IsoflopProfile> profiles = Profiles(runs, budgets, {});
  int used = 0;
  nlohmann::json budget_details = nlohmann::json::array();
  for (const IsoflopProfile& p : profiles) {
    nlohmann::json b = {{"budget", p.budget}, {"runs", p.runs}, {"used", p.ok}};
    if (p.ok) {
      ++used;
      b["params_opt"] = p.params_opt;
      b["tokens_opt"] = p.tokens_opt;
      b["loss_opt"] = p.loss_opt;
      b["curvature"] = p.c2;
    } else {
      b["problem"] = p.problem;
    }
    budget_details.push_back(b);
  }
  result.details["budgets"] = budget_details;
  if (used < kMinBudgets) {
    std::string why = std::to_string(used) + " usable budgets of " +
                      std::to_string(budgets.size()) +
                      " (a budget needs >= 3 sizes and a parabola minimum inside them)";
    if (!usable.dropped_reason.empty()) why += "; dropped " + usable.dropped_reason;
    return internal::Finish(result, FitStatus::kInsufficientData,
                            why + "; isoflop needs at least " + std::to_string(kMinBudgets), clock);
  }
  const std::optional<AllocationLaw> law = Regress(profiles, -1);
  if (!law) {
    return internal::Finish(result, FitStatus::kFailed, "regression over budgets failed", clock);
  }
  result.law = ToVector(*law);
  result.details["budgets_used"] = used;
  // Fit quality: the parabolas' residuals in log loss.
  {
    std::vector<double> residuals;
    for (size_t k = 0; k < budgets.size(); ++k) {
      if (!profiles[k].ok) continue;
      for (int i : budgets[k].runs) {
        const double x = std::log(runs[i].params);
        const double fitted = profiles[k].c0 + profiles[k].c1 * x + profiles[k].c2 * x * x;
        residuals.push_back(std::log(fitted) - std::log(runs[i].loss));
      }
    }
    result.rmse_log_loss = internal::Rmse(residuals);
  }

  if (options.holdout) {
    // Budgets are sorted ascending: the last is the largest.
    const int largest = static_cast<int>(budgets.size()) - 1;
    if (profiles[largest].ok) {
      if (const std::optional<AllocationLaw> rest = Regress(profiles, largest)) {
        const double predicted = rest->ParamsAt(profiles[largest].budget);
        const double actual = profiles[largest].params_opt;
        result.holdout_relative_error = (predicted - actual) / actual;
        result.details["holdout"] = {{"quantity", "params_opt at the largest budget"},
                                     {"budget", profiles[largest].budget},
                                     {"predicted", predicted},
                                     {"actual", actual}};
      }
    }
  }

  const BootstrapOutcome outcome = RunBootstrap(
      options.bootstrap_resamples, options.threads,
      [&](int k) -> std::optional<std::vector<double>> {
        const std::optional<AllocationLaw> fit = Regress(
            Profiles(runs, budgets, StratifiedResampleCounts(stratum, options.seed, k)), -1);
        if (!fit) return std::nullopt;
        return ToVector(*fit);
      });
  const std::string bootstrap_problem = internal::AcceptBootstrap(outcome, options, &result);
  result.parameters = ReportedParameters(FitForm::kIsoflop, result.law, result.law_samples);
  if (!bootstrap_problem.empty()) {
    return internal::Finish(result, FitStatus::kFailed, bootstrap_problem, clock);
  }
  return internal::Finish(result, FitStatus::kOk, "", clock);
}

}  // namespace ladder::fit
