// Protocol events on stdout (worker/TRAINER_PROTOCOL.md, "Out"): one JSON
// object per line, written by the protocol's writers
// (common/protocol/trainer_events.h), flushed at once, and nothing else on
// stdout. Free-form logs go to stderr through Log().
#pragma once

#include <string>

#include "common/protocol/trainer_events.h"
#include "worker/train/run_config.h"

namespace ladder::train {

// Writes one line (and a newline) on stdout and flushes.
void EmitLine(const std::string& line);

// Writes `event` as one line on stdout (protocol::WriteEventLine: non-finite
// numbers become null, invalid UTF-8 U+FFFD) and flushes.
template <class Event>
void EmitEvent(const Event& event) {
  EmitLine(protocol::WriteEventLine(event));
}

// The `error` event: {"event":"error","kind":...,"message":...}. The message
// is flattened to one line.
void EmitError(const TrainError& error);

// One line on stderr, prefixed "ladder-train: ".
void Log(const std::string& line);

}  // namespace ladder::train
