// ladder-train's training run: one attempt of one run, end to end, speaking
// the worker's line protocol (worker/TRAINER_PROTOCOL.md) on stdout. This
// header is free of libtorch so main.cc compiles quickly.
#pragma once

#include <cstdint>
#include <string>

namespace ladder::train {

// Exit codes. 0 if and only if a `result` event was printed.
constexpr int kExitOk = 0;
constexpr int kExitFailed = 1;    // after an error event: diverged, non_finite, internal
constexpr int kExitBadInput = 2;  // after an error event: bad_config, data
constexpr int kExitStopped =
    143;  // SIGTERM (128 + 15), after a checkpoint when one could be written

struct TrainerOptions {
  std::string config_path;     // --config
  std::string work_dir;        // --work-dir: checkpoints; created if missing
  std::string device = "cpu";  // --device: cpu, cuda, cuda:K
  int threads = 1;             // --threads: intra-op CPU threads
  std::string data_dir;        // --data-dir, else $LADDER_DATA_DIR, else ~/.cache/ladder/data
  // Overrides of the run config's optional train.* keys; negative: keep.
  double checkpoint_interval_seconds = -1;
  int64_t checkpoint_interval_steps = -1;
  int64_t micro_batch_tokens = -1;
};

// Runs the attempt and returns the process exit code. Never throws.
int RunTrainer(const TrainerOptions& options);

// Asks a running RunTrainer to checkpoint and stop after the current step.
// Async-signal-safe: call it from a SIGTERM handler.
void RequestStop();

}  // namespace ladder::train
