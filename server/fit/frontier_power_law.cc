#include "server/fit/frontier_power_law.h"

#include <ceres/ceres.h>

#include <algorithm>
#include <array>
#include <cmath>
#include <limits>

namespace ladder::fit {

namespace {

constexpr double kMaxAlpha = 10.0;
constexpr double kStartEFractions[] = {0.0, 0.5, 0.8, 0.95};
constexpr double kStartAlphas[] = {0.02, 0.05, 0.1, 0.2, 0.4, 0.8};

// r = log(E + exp(k - alpha x)) - log L; parameter blocks {E} and {k, alpha},
// so that families can share the first.
struct LogResidual {
  LogResidual(double x_in, double log_loss_in) : x(x_in), log_loss(log_loss_in) {}
  template <typename T>
  bool operator()(const T* e, const T* k_alpha, T* r) const {
    r[0] = log(e[0] + exp(k_alpha[0] - k_alpha[1] * x)) - log_loss;
    return true;
  }
  double x, log_loss;
};

// One family's frontier in the solver's coordinates.
struct Family {
  std::vector<double> x, log_l, loss;
  double log_ref = 0;  // log of the geometric mean compute
  double min_loss = std::numeric_limits<double>::infinity();
};

Family Prepare(const std::vector<FrontierPoint>& frontier) {
  Family f;
  const int n = static_cast<int>(frontier.size());
  for (const FrontierPoint& p : frontier) {
    f.log_ref += std::log(p.compute) / n;
    f.min_loss = std::min(f.min_loss, p.loss);
  }
  for (const FrontierPoint& p : frontier) {
    f.x.push_back(std::log(p.compute) - f.log_ref);
    f.log_l.push_back(std::log(p.loss));
    f.loss.push_back(p.loss);
  }
  return f;
}

struct Start {
  double e = 0;
  std::vector<std::array<double, 2>> k_alpha;  // per family
};

// log(L - e), kept finite where e reaches L.
double LogExcess(double loss, double e) { return std::log(std::max(loss - e, 1e-6 * loss)); }

// k that fits the mean of log(L - e) + alpha x, and the squared error left.
std::array<double, 2> InterceptAndError(const Family& f, double e, double alpha) {
  const int n = static_cast<int>(f.x.size());
  double k = 0;
  for (int i = 0; i < n; ++i) k += (LogExcess(f.loss[i], e) + alpha * f.x[i]) / n;
  double sse = 0;
  for (int i = 0; i < n; ++i) {
    const double r = LogExcess(f.loss[i], e) - (k - alpha * f.x[i]);
    sse += r * r;
  }
  return {k, sse};
}

std::vector<Start> Starts(const std::vector<Family>& families,
                          const std::vector<PowerLawInCompute>& extra) {
  std::vector<Start> starts;
  const bool extra_usable = extra.size() == families.size() &&
                            std::all_of(extra.begin(), extra.end(), [](const PowerLawInCompute& l) {
                              return l.A > 0 && std::isfinite(l.A);
                            });
  if (extra_usable) {
    Start s;
    s.e = std::max(0.0, extra[0].E);
    for (size_t f = 0; f < families.size(); ++f) {
      s.k_alpha.push_back(
          {std::log(extra[f].A) - extra[f].alpha * families[f].log_ref, extra[f].alpha});
    }
    starts.push_back(s);
  }
  double min_loss = std::numeric_limits<double>::infinity();
  for (const Family& f : families) min_loss = std::min(min_loss, f.min_loss);
  for (double e_frac : kStartEFractions) {
    for (double alpha : kStartAlphas) {
      Start s;
      s.e = e_frac * min_loss;
      for (const Family& f : families)
        s.k_alpha.push_back({InterceptAndError(f, s.e, alpha)[0], alpha});
      starts.push_back(s);
    }
  }
  if (families.size() < 2) return starts;
  // Families whose exponents differ: each its own best alpha of the list.
  for (double e_frac : kStartEFractions) {
    Start s;
    s.e = e_frac * min_loss;
    for (const Family& f : families) {
      std::array<double, 2> best = {0, std::numeric_limits<double>::infinity()};
      double best_alpha = kStartAlphas[0];
      for (double alpha : kStartAlphas) {
        const std::array<double, 2> fit = InterceptAndError(f, s.e, alpha);
        if (fit[1] < best[1]) best = fit, best_alpha = alpha;
      }
      s.k_alpha.push_back({best[0], best_alpha});
    }
    starts.push_back(s);
  }
  return starts;
}

ceres::Solver::Options SolverOptions() {
  ceres::Solver::Options o;
  o.linear_solver_type = ceres::DENSE_QR;
  o.max_num_iterations = 200;
  o.function_tolerance = 1e-12;
  o.gradient_tolerance = 1e-14;
  o.parameter_tolerance = 1e-12;
  o.logging_type = ceres::SILENT;
  o.num_threads = 1;  // the callers parallelise over resamples
  return o;
}

// The solution reached from `start`, or nullopt when it is not finite.
std::optional<FrontierLawSolution> SolveFrom(const std::vector<Family>& families, Start start) {
  ceres::Problem problem;
  for (size_t f = 0; f < families.size(); ++f) {
    for (size_t i = 0; i < families[f].x.size(); ++i) {
      problem.AddResidualBlock(new ceres::AutoDiffCostFunction<LogResidual, 1, 1, 2>(
                                   new LogResidual(families[f].x[i], families[f].log_l[i])),
                               nullptr, &start.e, start.k_alpha[f].data());
    }
  }
  problem.SetParameterLowerBound(&start.e, 0, 0.0);  // E >= 0
  for (std::array<double, 2>& ka : start.k_alpha) {
    problem.SetParameterLowerBound(ka.data(), 1, 0.0);  // alpha >= 0
    problem.SetParameterUpperBound(ka.data(), 1, kMaxAlpha);
  }
  ceres::Solver::Summary summary;
  ceres::Solve(SolverOptions(), &problem, &summary);
  if (!summary.IsSolutionUsable() || !std::isfinite(summary.final_cost)) return std::nullopt;
  if (!std::isfinite(start.e)) return std::nullopt;
  FrontierLawSolution s;
  s.cost = summary.final_cost;
  for (size_t f = 0; f < families.size(); ++f) {
    const auto& [k, alpha] = start.k_alpha[f];
    PowerLawInCompute law;
    law.E = start.e;
    law.alpha = alpha;
    law.A = std::exp(k + alpha * families[f].log_ref);  // A C^-alpha = e^k (C/C_ref)^-alpha
    if (!std::isfinite(k) || !std::isfinite(alpha) || !std::isfinite(law.A)) return std::nullopt;
    s.laws.push_back(law);
  }
  return s;
}

}  // namespace

std::optional<FrontierLawSolution> SolveFrontierLaws(
    const std::vector<std::vector<FrontierPoint>>& frontiers,
    const std::vector<PowerLawInCompute>& extra_start) {
  if (frontiers.empty()) return std::nullopt;
  std::vector<Family> families;
  for (const std::vector<FrontierPoint>& frontier : frontiers) {
    if (frontier.empty()) return std::nullopt;  // its parameters would be unconstrained
    families.push_back(Prepare(frontier));
  }
  std::optional<FrontierLawSolution> best;
  for (const Start& start : Starts(families, extra_start)) {
    std::optional<FrontierLawSolution> s = SolveFrom(families, start);
    if (s && (!best || s->cost < best->cost)) best = std::move(s);
  }
  return best;
}

std::vector<double> FrontierLogResiduals(const PowerLawInCompute& law,
                                         const std::vector<FrontierPoint>& frontier) {
  std::vector<double> out;
  out.reserve(frontier.size());
  for (const FrontierPoint& p : frontier) {
    out.push_back(std::log(law.Loss(p.compute)) - std::log(p.loss));
  }
  return out;
}

int FrontierRuns(const std::vector<FrontierPoint>& frontier) {
  std::vector<int> runs;
  for (const FrontierPoint& p : frontier) runs.push_back(p.run);
  std::sort(runs.begin(), runs.end());
  return static_cast<int>(std::unique(runs.begin(), runs.end()) - runs.begin());
}

}  // namespace ladder::fit
