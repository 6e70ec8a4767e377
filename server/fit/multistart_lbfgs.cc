#include "server/fit/multistart_lbfgs.h"

#include <ceres/gradient_problem.h>
#include <ceres/gradient_problem_solver.h>
#include <glog/logging.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <mutex>
#include <numeric>

#include "server/fit/parallel.h"

namespace ladder::fit {

namespace {

// A non-owning view so one function object can serve one GradientProblem
// (which insists on owning its function).
class Borrowed final : public ceres::FirstOrderFunction {
 public:
  explicit Borrowed(ceres::FirstOrderFunction* f) : f_(f) {}
  bool Evaluate(const double* x, double* cost, double* gradient) const override {
    return f_->Evaluate(x, cost, gradient);
  }
  int NumParameters() const override { return f_->NumParameters(); }

 private:
  ceres::FirstOrderFunction* f_;
};

// Ceres logs some line-search events through glog at WARNING regardless of
// logging_type (e.g. "Trying to extract roots from a constant polynomial",
// routine on the piecewise-linear Huber tails). Nothing else in Ladder uses
// glog, so raise its threshold to ERROR once, process-wide.
void QuietCeresLogging() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (FLAGS_minloglevel < google::GLOG_ERROR) FLAGS_minloglevel = google::GLOG_ERROR;
  });
}

StartEnd RunOne(ceres::FirstOrderFunction* function, const std::vector<double>& start,
                const LbfgsOptions& options) {
  ceres::GradientProblemSolver::Options solver_options;
  solver_options.line_search_direction_type = ceres::LBFGS;
  solver_options.max_num_iterations = options.max_iterations;
  solver_options.function_tolerance = options.function_tolerance;
  solver_options.gradient_tolerance = options.gradient_tolerance;
  solver_options.parameter_tolerance = options.parameter_tolerance;
  solver_options.logging_type = ceres::SILENT;  // no glog lines from the solver
  solver_options.minimizer_progress_to_stdout = false;

  StartEnd end;
  end.x = start;
  ceres::GradientProblem problem(new Borrowed(function));
  ceres::GradientProblemSolver::Summary summary;
  ceres::Solve(solver_options, problem, end.x.data(), &summary);

  // Re-evaluate at the returned point: the summary's cost is the solver's,
  // but the point is what callers keep.
  double cost = std::numeric_limits<double>::infinity();
  if (!function->Evaluate(end.x.data(), &cost, nullptr) || !std::isfinite(cost)) {
    cost = std::numeric_limits<double>::infinity();
  }
  for (double v : end.x) {
    if (!std::isfinite(v)) cost = std::numeric_limits<double>::infinity();
  }
  end.cost = cost;
  end.converged = summary.termination_type == ceres::CONVERGENCE;
  end.iterations = static_cast<int>(summary.iterations.size());
  return end;
}

}  // namespace

MultiStartResult MinimizeFromStarts(
    const std::function<std::unique_ptr<ceres::FirstOrderFunction>()>& make_function,
    const std::vector<std::vector<double>>& starts, const LbfgsOptions& options, int threads) {
  QuietCeresLogging();
  MultiStartResult result;
  result.ends.resize(starts.size());
  const int n = static_cast<int>(starts.size());
  threads = std::min(ResolveThreads(threads), std::max(1, n));
  // One function object per worker thread (they carry scratch buffers).
  std::vector<std::unique_ptr<ceres::FirstOrderFunction>> functions(threads);
  ParallelFor(n, threads, [&](int i, int worker) {
    if (!functions[worker]) functions[worker] = make_function();
    result.ends[i] = RunOne(functions[worker].get(), starts[i], options);
  });
  for (int i = 0; i < n; ++i) {
    const StartEnd& end = result.ends[i];
    if (end.converged) ++result.converged;
    if (std::isfinite(end.cost) && (result.best < 0 || end.cost < result.ends[result.best].cost)) {
      result.best = i;
    }
  }
  return result;
}

std::vector<std::vector<double>> DistinctBestEnds(const MultiStartResult& result, int count,
                                                  double tolerance) {
  std::vector<int> order(result.ends.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(),
                   [&](int i, int j) { return result.ends[i].cost < result.ends[j].cost; });
  std::vector<std::vector<double>> out;
  for (int i : order) {
    if (static_cast<int>(out.size()) >= count) break;
    const StartEnd& end = result.ends[i];
    if (!std::isfinite(end.cost)) break;
    bool distinct = true;
    for (const std::vector<double>& kept : out) {
      double diff = 0;
      for (size_t k = 0; k < kept.size(); ++k) diff = std::max(diff, std::abs(kept[k] - end.x[k]));
      if (diff <= tolerance) {
        distinct = false;
        break;
      }
    }
    if (distinct) out.push_back(end.x);
  }
  return out;
}

}  // namespace ladder::fit
