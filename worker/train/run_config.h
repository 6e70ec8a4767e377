// The run configuration as ladder-train reads it: the protocol's typed
// config (common/protocol/run_config.h, the one reader of
// worker/TRAINER_PROTOCOL.md, "The run configuration") plus what only the
// trainer adds: the kinds of its `error` event and the checkpoint
// fingerprint. No libtorch in here.
#pragma once

#include <string>

#include "common/protocol/run_config.h"

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

using TrainSettings = protocol::TrainSettings;
using DataSettings = protocol::DataSettings;

struct RunConfig : protocol::RunConfig {
  // protocol::Fingerprint of the config: a checkpoint written under another
  // fingerprint is not resumed.
  std::string fingerprint;
};

// Parses and validates the JSON text of a run configuration
// (protocol::ParseRunConfig). On failure returns false and fills `error`
// (kind bad_config) with the message naming the field: "train.lr must be
// positive (got -1)".
bool ParseRunConfig(const std::string& json_text, RunConfig* config, TrainError* error);

// Reads `path` and parses it; a file that cannot be read is bad_config too.
bool LoadRunConfig(const std::string& path, RunConfig* config, TrainError* error);

}  // namespace ladder::train
