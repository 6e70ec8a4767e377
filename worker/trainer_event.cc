#include "worker/trainer_event.h"

#include <absl/status/status.h>

#include "common/utf8.h"

namespace ladder::worker {
namespace {

ErrorEvent Reported(const protocol::ErrorEvent& e) {
  ErrorEvent out;
  std::string message = e.message;
  if (e.kind == "bad_config" || e.kind == "data" || e.kind == "diverged" ||
      e.kind == "non_finite" || e.kind == "internal") {
    out.reason = e.kind;
  } else {
    out.reason = "internal";
    message = "trainer error kind '" + e.kind + "': " + message;
  }
  for (char& c : message) {  // one line, the unknown kind included
    if (c == '\n' || c == '\r') c = ' ';
  }
  out.message = std::string(utf8::Prefix(message, kMaxErrorMessage));
  return out;
}

}  // namespace

absl::StatusOr<TrainerEvent> ParseTrainerEvent(std::string_view line) {
  protocol::TrainerEvent read;
  if (auto error = protocol::ReadEventLine(line, &read)) {
    return absl::InvalidArgumentError(error->message);
  }
  TrainerEvent event;
  event.name = std::move(read.name);
  std::visit(
      [&](auto& body) {
        if constexpr (std::is_same_v<std::decay_t<decltype(body)>, protocol::ErrorEvent>) {
          event.body = Reported(body);
        } else {
          event.body = std::move(body);
        }
      },
      read.body);
  return event;
}

}  // namespace ladder::worker
