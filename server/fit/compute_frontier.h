// The compute-optimal frontier of a family: the lower envelope of loss over
// compute (Kaplan et al. 2020 sec. 6's L(C_min); Gundlach et al. 2025 fit
// the Pareto frontier of all training-curve points). A point is on the
// frontier when no point at lower or equal compute has a lower or equal loss.
// Note the envelope of noisy points is biased low by selection.
#pragma once

#include <cstdint>
#include <vector>

#include "server/fit/observation.h"

namespace ladder::fit {

struct FrontierPoint {
  double compute = 0;
  double loss = 0;
  int run = 0;              // index into the runs given
  bool final_point = true;  // the run's final loss (false: a curve point)
};

// The frontier of the runs' final losses and, when use_curves, of their loss
// curve points (curve point compute: exact FLOPs, or 6 * N * tokens for
// FlopsCount::kSixND). Non-finite or non-positive points are skipped. Sorted
// by compute; losses strictly decrease along it. `counts` (multiplicities,
// empty = all 1) lets a bootstrap resample leave runs out; a run counted k
// times adds its points once (duplicates never change an envelope).
std::vector<FrontierPoint> ComputeFrontier(const std::vector<Observation>& runs, FlopsCount count,
                                           bool use_curves, const std::vector<int>& counts = {});

}  // namespace ladder::fit
