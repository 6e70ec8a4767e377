// The trainer line protocol's output side (worker/TRAINER_PROTOCOL.md): one
// JSON object per stdout line, parsed and validated into a TrainerEvent.
// Pure functions, no I/O: safe from any thread.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>
#include <variant>

namespace ladder::worker {

// `started`: once, first.
struct StartedEvent {
  std::string trainer;
  std::string version;
  bool simulated = false;
  std::string device;
  int64_t threads = 0;
  int64_t params_total = 0;
  int64_t params_non_embedding = 0;
  double flops_per_token = 0;  // exact training FLOPs per token (3x forward)
  double flops_per_token_6n = 0;
  int64_t total_steps = 0;
  int64_t resumed_from_step = 0;
  int64_t resumed_from_tokens = 0;
};

// `progress`: every logging step.
struct ProgressEvent {
  int64_t step = 0;
  int64_t tokens = 0;
  double flops = 0;  // exact, cumulative
  double train_loss = 0;
  std::optional<double> eval_loss;
  double lr = 0;
  double grad_norm = 0;
  double tokens_per_second = 0;
  double flops_per_second = 0;
  std::optional<double> mfu;  // null when the device's peak is unknown
};

// `checkpoint`: after a checkpoint is durably written.
struct CheckpointEvent {
  int64_t step = 0;
  int64_t tokens = 0;
};

// `result`: once, last, on success. The worker forwards the line verbatim;
// these are the fields it checks.
struct ResultEvent {
  double final_eval_loss = 0;
  double final_train_loss = 0;
  int64_t params_total = 0;
  int64_t params_non_embedding = 0;
  int64_t tokens = 0;
  int64_t unique_tokens = 0;
  double epochs = 0;
  double flops = 0;
  double flops_6n = 0;
  double wall_seconds = 0;
  std::string device;
  bool simulated = false;
};

// `error`: once, last, on failure.
struct ErrorEvent {
  // The FailAttempt reason: the event's `kind` when it is one of the
  // protocol's kinds (bad_config, data, diverged, non_finite, internal), else
  // "internal" (and `message` starts with the unknown kind).
  std::string reason;
  std::string message;  // one line, at most kMaxErrorMessage bytes
};

inline constexpr size_t kMaxErrorMessage = 1000;

using TrainerEventBody =
    std::variant<StartedEvent, ProgressEvent, CheckpointEvent, ResultEvent, ErrorEvent>;

struct TrainerEvent {
  std::string name;  // "started", "progress", ...
  TrainerEventBody body;
};

// Parses one stdout line (without its newline). Extra keys are ignored (the
// protocol may grow). Every field in the protocol's table is required;
// `eval_loss` and `mfu` may be null. Counts must be non-negative integral
// numbers below 2^63 (2000000.0 is accepted as 2000000).
// Never throws: any line, however hostile (numbers like 1e400 that no double
// holds, deep nesting, invalid UTF-8), gives a value or an error.
// Errors (all INVALID_ARGUMENT, message without the line itself):
//   "not JSON (byte 5)", "not a JSON object", "no 'event' string",
//   "unknown event 'foo'", "progress: missing field 'tokens'",
//   "progress: field 'step' must be an integer", "not JSON: a number out of
//   range". Messages are valid UTF-8 (they go into protobuf strings).
absl::StatusOr<TrainerEvent> ParseTrainerEvent(std::string_view line);

}  // namespace ladder::worker
