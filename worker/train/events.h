// Protocol events on stdout (worker/TRAINER_PROTOCOL.md, "Out"): one JSON
// object per line, flushed at once, and nothing else on stdout. Free-form
// logs go to stderr through Log().
#pragma once

#include <nlohmann/json.hpp>
#include <string>

#include "worker/train/run_config.h"

namespace ladder::train {

// Writes `event` (which must hold an "event" key) as one line on stdout and
// flushes. Non-finite numbers become null (nlohmann's dump does this).
void EmitEvent(const nlohmann::json& event);

// The `error` event: {"event":"error","kind":...,"message":...}. The message
// is flattened to one line.
void EmitError(const TrainError& error);

// One line on stderr, prefixed "ladder-train: ".
void Log(const std::string& line);

// A double for JSON: NaN and infinities become null.
nlohmann::json NumberOrNull(double value);

}  // namespace ladder::train
