#include "server/fit/approach3.h"

#include <algorithm>
#include <cmath>
#include <memory>
#include <numeric>
#include <random>

#include "server/fit/bootstrap.h"
#include "server/fit/multistart_lbfgs.h"
#include "server/fit/usable_runs.h"

namespace ladder::fit {

const std::vector<std::vector<double>>& Approach3StartGrid() {
  static const std::vector<std::vector<double>> grid = [] {
    std::vector<std::vector<double>> g;
    g.reserve(4500);
    for (int ia = 0; ia <= 4; ++ia) {
      for (int ib = 0; ib <= 4; ++ib) {
        for (int ie = 0; ie <= 4; ++ie) {
          for (int ja = 0; ja <= 5; ++ja) {
            for (int jb = 0; jb <= 5; ++jb) {
              std::vector<double> theta(kChinchillaThetaSize);
              theta[kThetaAlpha] = 0.5 * ia;
              theta[kThetaBeta] = 0.5 * ib;
              theta[kThetaE] = -1.0 + 0.5 * ie;
              theta[kThetaA] = 5.0 * ja;
              theta[kThetaB] = 5.0 * jb;
              g.push_back(theta);
            }
          }
        }
      }
    }
    return g;
  }();
  return grid;
}

ChinchillaLaw LawFromTheta(const std::vector<double>& theta) {
  ChinchillaLaw law;
  law.E = std::exp(theta[kThetaE]);
  law.A = std::exp(theta[kThetaA]);
  law.alpha = theta[kThetaAlpha];
  law.B = std::exp(theta[kThetaB]);
  law.beta = theta[kThetaBeta];
  return law;
}

std::vector<double> ThetaFromLaw(const ChinchillaLaw& law) {
  std::vector<double> theta(kChinchillaThetaSize);
  theta[kThetaE] = std::log(law.E);
  theta[kThetaA] = std::log(law.A);
  theta[kThetaAlpha] = law.alpha;
  theta[kThetaB] = std::log(law.B);
  theta[kThetaBeta] = law.beta;
  return theta;
}

LogSpaceRuns MakeLogSpaceRuns(const std::vector<double>& log_params,
                              const std::vector<double>& log_tokens,
                              const std::vector<double>& log_loss, const std::vector<int>& counts) {
  const int n = static_cast<int>(log_loss.size());
  int kept = 0;
  for (int i = 0; i < n; ++i) kept += counts.empty() || counts[i] > 0;
  LogSpaceRuns out;
  out.log_params.resize(kept);
  out.log_tokens.resize(kept);
  out.log_loss.resize(kept);
  out.weight.resize(kept);
  int k = 0;
  for (int i = 0; i < n; ++i) {
    if (!counts.empty() && counts[i] == 0) continue;
    out.log_params[k] = log_params[i];
    out.log_tokens[k] = log_tokens[i];
    out.log_loss[k] = log_loss[i];
    out.weight[k] = counts.empty() ? 1.0 : counts[i];
    ++k;
  }
  return out;
}

std::optional<Approach3Solution> SolveApproach3(const LogSpaceRuns& runs,
                                                const std::vector<std::vector<double>>& starts,
                                                const FitOptions& options, int threads,
                                                int keep_distinct) {
  const double delta = options.huber_delta;
  MultiStartResult result = MinimizeFromStarts(
      [&runs, delta] {
        return std::unique_ptr<ceres::FirstOrderFunction>(new HuberLseObjective(&runs, delta));
      },
      starts, options.lbfgs, threads);
  if (result.best < 0) return std::nullopt;
  Approach3Solution solution;
  solution.theta = result.ends[result.best].x;
  solution.cost = result.ends[result.best].cost;
  solution.starts = static_cast<int>(starts.size());
  solution.converged = result.converged;
  solution.distinct_optima = DistinctBestEnds(result, std::max(1, keep_distinct), 1e-3);
  return solution;
}

std::optional<Approach3Solution> SolveApproach3Grid(const LogSpaceRuns& runs,
                                                    const std::vector<std::vector<double>>& grid,
                                                    const FitOptions& options, int keep_distinct,
                                                    int* grid_runs) {
  const int n = runs.size();
  if (options.max_grid_runs <= 0 || n <= options.max_grid_runs) {
    *grid_runs = n;
    return SolveApproach3(runs, grid, options, options.threads, keep_distinct);
  }
  const std::vector<int> pick =
      SubsampleIndices(n, options.max_grid_runs, ResampleSeed(options.seed, -2, 2));
  LogSpaceRuns screen;
  const int k = static_cast<int>(pick.size());
  screen.log_params.resize(k);
  screen.log_tokens.resize(k);
  screen.log_loss.resize(k);
  screen.weight.resize(k);
  for (int j = 0; j < k; ++j) {
    screen.log_params[j] = runs.log_params[pick[j]];
    screen.log_tokens[j] = runs.log_tokens[pick[j]];
    screen.log_loss[j] = runs.log_loss[pick[j]];
    screen.weight[j] = runs.weight[pick[j]];
  }
  *grid_runs = k;
  const std::optional<Approach3Solution> screened = SolveApproach3(
      screen, grid, options, options.threads, std::max(keep_distinct, options.screen_optima));
  if (!screened) return std::nullopt;
  std::optional<Approach3Solution> refined =
      SolveApproach3(runs, screened->distinct_optima, options, options.threads, keep_distinct);
  if (refined) {
    refined->starts = screened->starts;
    refined->converged = screened->converged;
  }
  return refined;
}

std::vector<std::vector<double>> RefitStarts(const std::vector<std::vector<double>>& warm,
                                             const std::vector<std::vector<double>>& grid,
                                             int extra, uint64_t seed) {
  std::vector<std::vector<double>> starts = warm;
  extra = std::min<int>(extra, static_cast<int>(grid.size()));
  if (extra <= 0) return starts;
  // A partial Fisher-Yates shuffle picks `extra` distinct grid points.
  std::vector<int> index(grid.size());
  std::iota(index.begin(), index.end(), 0);
  std::mt19937_64 rng(seed);
  for (int k = 0; k < extra; ++k) {
    std::uniform_int_distribution<int> pick(k, static_cast<int>(index.size()) - 1);
    std::swap(index[k], index[pick(rng)]);
    starts.push_back(grid[index[k]]);
  }
  return starts;
}

}  // namespace ladder::fit
