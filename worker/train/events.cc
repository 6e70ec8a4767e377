#include "worker/train/events.h"

#include <cmath>
#include <cstdio>

namespace ladder::train {

void EmitEvent(const nlohmann::json& event) {
  // error_handler::replace: a stray invalid UTF-8 byte in a message (a file
  // name, say) must not throw or break the line.
  const std::string line = event.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void EmitError(const TrainError& error) {
  std::string message = error.message;
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  EmitEvent({{"event", "error"}, {"kind", ErrorKindName(error.kind)}, {"message", message}});
}

void Log(const std::string& line) {
  std::fprintf(stderr, "ladder-train: %s\n", line.c_str());
  std::fflush(stderr);
}

nlohmann::json NumberOrNull(double value) {
  if (!std::isfinite(value)) return nullptr;
  return value;
}

}  // namespace ladder::train
