// One trainer stdout line, as the worker reads it (worker/attempt_supervisor.cc):
// never an exception; messages go into protobuf strings, so valid UTF-8.
#include <cstdint>
#include <string>
#include <string_view>
#include <variant>

#include "fuzz/fuzz_util.h"
#include "worker/trainer_event.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ladder::fuzz::Check;
  const std::string_view line(reinterpret_cast<const char*>(data), size);
  const auto event = ladder::worker::ParseTrainerEvent(line);  // must not throw
  if (!event.ok()) {
    Check(event.status().code() == absl::StatusCode::kInvalidArgument, "INVALID_ARGUMENT");
    Check(ladder::fuzz::ValidUtf8(std::string(event.status().message())), "message is UTF-8");
    return 0;
  }
  if (const auto* e = std::get_if<ladder::worker::ErrorEvent>(&event->body)) {
    Check(e->message.size() <= ladder::worker::kMaxErrorMessage, "message bounded");
    Check(ladder::fuzz::ValidUtf8(e->message), "error message is UTF-8");
    Check(e->message.find('\n') == std::string::npos, "one line");
  }
  if (const auto* p = std::get_if<ladder::worker::ProgressEvent>(&event->body)) {
    Check(p->step >= 0 && p->tokens >= 0, "counts not negative");
  }
  return 0;
}
