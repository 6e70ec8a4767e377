#include "worker/train/lr_schedule.h"

#include <algorithm>
#include <cmath>

namespace ladder::train {

double LrSchedule::At(int64_t step) const {
  if (step < warmup_steps) {
    return peak * static_cast<double>(step + 1) / static_cast<double>(warmup_steps);
  }
  const double floor = min_ratio * peak;
  const double span = static_cast<double>(std::max<int64_t>(1, total_steps - warmup_steps - 1));
  const double p = std::min(1.0, static_cast<double>(step - warmup_steps) / span);
  return floor + (peak - floor) * 0.5 * (1.0 + std::cos(M_PI * p));
}

LrSchedule MakeLrSchedule(double peak, double min_ratio, double warmup_fraction,
                          int64_t total_steps) {
  LrSchedule s;
  s.peak = peak;
  s.min_ratio = min_ratio;
  s.total_steps = std::max<int64_t>(1, total_steps);
  s.warmup_steps = std::min<int64_t>(
      s.total_steps - 1, std::llround(warmup_fraction * static_cast<double>(s.total_steps)));
  s.warmup_steps = std::max<int64_t>(0, s.warmup_steps);
  return s;
}

}  // namespace ladder::train
