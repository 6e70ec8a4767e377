// The trainer line protocol's output side as the worker reads it: the
// protocol's one reader (common/protocol/trainer_events.h) with the worker's
// rules for `error` events on top. Pure functions, no I/O: safe from any
// thread.
#pragma once

#include <absl/status/statusor.h>

#include <cstddef>
#include <string>
#include <string_view>
#include <variant>

#include "common/protocol/trainer_events.h"

namespace ladder::worker {

using protocol::CheckpointEvent;
using protocol::ProgressEvent;
using protocol::ResultEvent;
using protocol::StartedEvent;

// `error`, as the worker reports it.
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

// Parses one stdout line (without its newline) with protocol::ReadEventLine:
// every field in the protocol's tables is required unless marked, extra
// keys are ignored, counts are non-negative integers below 2^63. Never
// throws. Errors are INVALID_ARGUMENT with the reader's message ("not JSON
// (byte 5)", "progress: missing field 'tokens'", ...), valid UTF-8, without
// the line itself.
absl::StatusOr<TrainerEvent> ParseTrainerEvent(std::string_view line);

}  // namespace ladder::worker
