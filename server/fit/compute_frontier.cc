#include "server/fit/compute_frontier.h"

#include <algorithm>
#include <cmath>

namespace ladder::fit {

std::vector<FrontierPoint> ComputeFrontier(const std::vector<Observation>& runs, FlopsCount count,
                                           bool use_curves, const std::vector<int>& counts) {
  std::vector<FrontierPoint> points;
  auto add = [&points](double c, double loss, int run, bool final_point) {
    if (std::isfinite(c) && c > 0 && std::isfinite(loss) && loss > 0) {
      points.push_back({c, loss, run, final_point});
    }
  };
  for (int i = 0; i < static_cast<int>(runs.size()); ++i) {
    if (!counts.empty() && counts[i] == 0) continue;
    const Observation& run = runs[i];
    add(ComputeOf(run, count), run.loss, i, true);
    if (!use_curves) continue;
    for (const CurvePoint& p : run.curve) {
      const double c = count == FlopsCount::kExact ? p.flops : 6.0 * run.params * p.tokens;
      add(c, p.loss, i, false);
    }
  }
  // Sweep by compute (ties: lowest loss first) keeping strict new minima.
  std::sort(points.begin(), points.end(), [](const FrontierPoint& a, const FrontierPoint& b) {
    return a.compute != b.compute ? a.compute < b.compute : a.loss < b.loss;
  });
  std::vector<FrontierPoint> frontier;
  for (const FrontierPoint& p : points) {
    if (frontier.empty() || p.loss < frontier.back().loss) frontier.push_back(p);
  }
  return frontier;
}

}  // namespace ladder::fit
