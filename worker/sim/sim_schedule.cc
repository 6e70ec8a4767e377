#include "worker/sim/sim_schedule.h"

#include "worker/train/lr_schedule.h"

namespace ladder::sim {

double ReportedLearningRate(const SimRunConfig& config, int64_t steps_done, int64_t total_steps) {
  const train::LrSchedule schedule =
      train::MakeLrSchedule(config.lr, config.min_lr_ratio, config.warmup_fraction, total_steps);
  return schedule.At(steps_done - 1);
}

}  // namespace ladder::sim
