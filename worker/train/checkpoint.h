// Checkpoints in a run's work directory: ckpt-<step>.pt, written atomically
// (to a temporary name, fsync'd, renamed, directory fsync'd) so that a kill
// at any moment leaves either the old set or the new one, never a torn file.
// A new attempt resumes from the newest checkpoint that loads and whose run
// fingerprint matches; the two newest are kept.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "worker/train/adamw.h"
#include "worker/train/model.h"

namespace ladder::train {

// Everything besides weights and moments that the loop needs to continue
// exactly where it stopped (the data order is a function of `step`).
struct LoopState {
  int64_t step = 0;         // optimizer steps done
  int64_t tokens = 0;       // training tokens consumed
  double wall_seconds = 0;  // training wall time of all attempts, up to this checkpoint
  // Train-loss average under way for the next progress event.
  double loss_sum = 0;
  int64_t loss_count = 0;
  // Divergence detector state (trainer.cc).
  double loss_ema = 0;
  double best_loss_ema = 0;
  bool ema_started = false;
};

// Writes ckpt-<step>.pt into `dir` and removes all but the two newest.
// Returns the path, or "" with `error` filled (the run goes on: a failed
// checkpoint is logged, not fatal).
std::string SaveCheckpoint(const std::string& dir, const std::string& fingerprint,
                           LanguageModel& model, const AdamW& optimizer, const LoopState& state,
                           std::string* error);

// Loads the newest usable checkpoint of `dir` into `model`, `optimizer` and
// `state`. Returns its path, or nullopt when there is none (unreadable or
// mismatched ones are skipped with a log line).
std::optional<std::string> LoadLatestCheckpoint(const std::string& dir,
                                                const std::string& fingerprint,
                                                LanguageModel& model, AdamW& optimizer,
                                                LoopState* state, const torch::Device& device);

}  // namespace ladder::train
