// ladder-sim's learning-rate schedule: ladder-train's own
// (worker/train/lr_schedule.h, torch-free), indexed the way ladder-train
// reports it. SIMULATION ONLY: the sim trains nothing, it reports the lr a
// real run of the same config would have used.
#pragma once

#include <cstdint>

#include "worker/sim/sim_config.h"

namespace ladder::sim {

// The `lr` of the `progress` event after `steps_done` steps (1-based: the
// lr of the step just taken, 0-based step steps_done - 1), as ladder-train
// reports it for a run of `total_steps` steps.
double ReportedLearningRate(const SimRunConfig& config, int64_t steps_done, int64_t total_steps);

}  // namespace ladder::sim
