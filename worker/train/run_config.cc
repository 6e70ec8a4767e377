#include "worker/train/run_config.h"

#include <fstream>
#include <sstream>
#include <utility>

namespace ladder::train {

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBadConfig:
      return "bad_config";
    case ErrorKind::kData:
      return "data";
    case ErrorKind::kDiverged:
      return "diverged";
    case ErrorKind::kNonFinite:
      return "non_finite";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "internal";
}

bool ParseRunConfig(const std::string& json_text, RunConfig* config, TrainError* error) {
  protocol::RunConfig parsed;
  std::string message;
  if (!protocol::ParseRunConfig(json_text, &parsed, &message)) {
    *error = {ErrorKind::kBadConfig, std::move(message)};
    return false;
  }
  RunConfig c;
  static_cast<protocol::RunConfig&>(c) = std::move(parsed);
  c.fingerprint = protocol::Fingerprint(c);
  *config = std::move(c);
  return true;
}

bool LoadRunConfig(const std::string& path, RunConfig* config, TrainError* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    *error = {ErrorKind::kBadConfig, "cannot read run config " + path};
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseRunConfig(buffer.str(), config, error);
}

}  // namespace ladder::train
