// Durations on command lines and in logs: "250ms", "30s", "5m", "1h", or a
// bare number of seconds ("1.5"). Shared by every binary's flag parsing.
#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <string>
#include <string_view>

namespace ladder {

// Parses "<number><unit>" with unit one of ms, s, m, h (none = seconds).
// Negative values, NaN and trailing garbage are INVALID_ARGUMENT.
absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text);

// The shortest exact spelling of `d` in the units above: "250ms", "30s", "5m".
std::string FormatDuration(std::chrono::milliseconds d);

}  // namespace ladder
