#include "worker/train/events.h"

#include <cstdio>

namespace ladder::train {

void EmitLine(const std::string& line) {
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fputc('\n', stdout);
  std::fflush(stdout);
}

void EmitError(const TrainError& error) {
  std::string message = error.message;
  for (char& c : message) {
    if (c == '\n' || c == '\r') c = ' ';
  }
  EmitEvent(protocol::ErrorEvent{ErrorKindName(error.kind), message});
}

void Log(const std::string& line) {
  std::fprintf(stderr, "ladder-train: %s\n", line.c_str());
  std::fflush(stderr);
}

}  // namespace ladder::train
