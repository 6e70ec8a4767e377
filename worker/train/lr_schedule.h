// The learning-rate schedule every Ladder run uses: linear warmup, then
// cosine decay to a floor (Loshchilov & Hutter 2017, "SGDR", eq. 5, without
// restarts; the warmup as in Goyal et al. 2017, sec. 2.2).
#pragma once

#include <cstdint>

namespace ladder::train {

struct LrSchedule {
  double peak = 0;           // lr after warmup (the run config's train.lr)
  double min_ratio = 0.1;    // floor = min_ratio * peak, reached at the last step
  int64_t warmup_steps = 0;  // round(warmup_fraction * total_steps)
  int64_t total_steps = 1;

  // lr for 0-based step s:
  //   s <  W: peak * (s + 1) / W
  //   s >= W: floor + (peak - floor) * 0.5 * (1 + cos(pi * p)),
  //           p = (s - W) / max(1, S - W - 1), so the last step gets the floor.
  double At(int64_t step) const;
};

LrSchedule MakeLrSchedule(double peak, double min_ratio, double warmup_fraction,
                          int64_t total_steps);

}  // namespace ladder::train
