// Minimal leveled logging to stderr, one line per call:
//   2026-11-23T10:00:00.123Z I coordinator] leased run 42 to worker 3
// Thread-safe (one write(2) per line). Never log secrets (bearer tokens,
// lease tokens): log their ids instead.
//
// Every call is exactly one line: control characters in the message and the
// tag (a newline in a sweep, worker or token name, an ANSI escape) are written
// escaped (LogSafe), so user strings logged verbatim cannot forge log lines.
#pragma once

#include <absl/status/statusor.h>

#include <sstream>
#include <string>
#include <string_view>

namespace ladder {

enum class LogLevel { kDebug = 0, kInfo = 1, kWarning = 2, kError = 3 };

// The one spelling of levels on every binary's --log-level: "debug", "info",
// "warning" (or "warn"), "error". Anything else is INVALID_ARGUMENT with a
// message that lists them (callers prefix the flag name).
absl::StatusOr<LogLevel> ParseLogLevel(std::string_view text);
// "debug", "info", "warning" or "error": ParseLogLevel's inverse.
std::string_view LogLevelName(LogLevel level);

// Process-wide settings, set once from main().
void SetLogLevel(LogLevel level);
void SetLogTag(std::string tag);  // e.g. "coordinator", "worker w1"
bool LogEnabled(LogLevel level);
void LogLine(LogLevel level, std::string_view message);
// `text` with control characters (bytes < 0x20 and 0x7f) escaped: \n, \r,
// \t, else \xNN. Other bytes, UTF-8 included, are kept.
std::string LogSafe(std::string_view text);

namespace internal {
class LogMessage {
 public:
  explicit LogMessage(LogLevel level) : level_(level) {}
  ~LogMessage() { LogLine(level_, stream_.str()); }
  std::ostringstream& stream() { return stream_; }

 private:
  LogLevel level_;
  std::ostringstream stream_;
};
}  // namespace internal
}  // namespace ladder

#define LADDER_LOG(level)                                 \
  if (!::ladder::LogEnabled(::ladder::LogLevel::level)) { \
  } else                                                  \
    ::ladder::internal::LogMessage(::ladder::LogLevel::level).stream()
#define LOG_DEBUG LADDER_LOG(kDebug)
#define LOG_INFO LADDER_LOG(kInfo)
#define LOG_WARN LADDER_LOG(kWarning)
#define LOG_ERROR LADDER_LOG(kError)
