// The run configuration ladder-train reads (worker/TRAINER_PROTOCOL.md, "The
// run configuration"), parsed and validated once. No libtorch in here, so the
// parser is cheap to compile and to test.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/model/model_shape.h"

namespace ladder::train {

// Error kinds of the protocol's `error` event. Sent on the wire by name
// (ErrorKindName): do not rename.
enum class ErrorKind { kBadConfig, kData, kDiverged, kNonFinite, kInternal };
const char* ErrorKindName(ErrorKind kind);

// A failure that ends the run: one readable line and the protocol kind.
struct TrainError {
  ErrorKind kind = ErrorKind::kInternal;
  std::string message;
};

// `train` section. Defaults apply to keys the coordinator left out.
struct TrainSettings {
  int64_t tokens = 0;        // D, training tokens asked for (required)
  int64_t batch_tokens = 0;  // sequences x context (required)
  double lr = 0;             // peak learning rate (required)
  double min_lr_ratio = 0.1;
  double warmup_fraction = 0.05;
  double weight_decay = 0.1;
  double grad_clip = 1.0;  // max global L2 norm; 0 disables clipping
  double beta1 = 0.9;
  double beta2 = 0.95;
  double adam_eps = 1e-8;
  uint64_t seed = 1;
  int64_t eval_tokens = 131072;
  int64_t eval_interval_tokens = 0;  // 0: evaluate only at the end
  int64_t log_interval_steps = 10;
  // Optional, not in the protocol's example: a micro-batch for gradient
  // accumulation (0: derived from the device, see trainer.h), and how often
  // to checkpoint (either trigger fires; 0 disables that trigger).
  int64_t micro_batch_tokens = 0;
  double checkpoint_interval_seconds = 300;
  int64_t checkpoint_interval_steps = 0;
};

// `data` section.
struct DataSettings {
  std::string dataset = "kjv";  // prepared corpus name, or an absolute path
  std::optional<int64_t> unique_tokens;
  double validation_fraction = 0.05;  // only for a single file given by path
};

struct RunConfig {
  int64_t run_id = 0;
  int64_t sweep_id = 0;
  int64_t attempt = 0;
  model::ModelShape shape;
  TrainSettings train;
  DataSettings data;
  // The parts that define the run's numbers (family, model, train, data), as
  // canonical JSON: a checkpoint written under another fingerprint is not
  // resumed.
  std::string fingerprint;
};

// Parses and validates the JSON text of a run configuration. On failure
// returns false and fills `error` (kind bad_config) with a message naming the
// field: "train.lr must be a positive number (got -1)".
bool ParseRunConfig(const std::string& json_text, RunConfig* config, TrainError* error);

// Reads `path` and parses it; a file that cannot be read is bad_config too.
bool LoadRunConfig(const std::string& path, RunConfig* config, TrainError* error);

}  // namespace ladder::train
