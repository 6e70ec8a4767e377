#include "common/duration.h"

#include <absl/status/status.h>

#include <cmath>
#include <cstdlib>

namespace ladder {

absl::StatusOr<std::chrono::milliseconds> ParseDuration(std::string_view text) {
  const std::string s(text);
  if (s.empty()) return absl::InvalidArgumentError("empty duration");
  char* end = nullptr;
  const double value = std::strtod(s.c_str(), &end);
  if (end == s.c_str() || !std::isfinite(value)) {
    return absl::InvalidArgumentError("'" + s + "' is not a duration (e.g. 500ms, 30s, 5m)");
  }
  if (value < 0) return absl::InvalidArgumentError("duration '" + s + "' is negative");
  const std::string unit(end);
  double ms_per_unit = 0;
  if (unit.empty() || unit == "s") {
    ms_per_unit = 1000;
  } else if (unit == "ms") {
    ms_per_unit = 1;
  } else if (unit == "m" || unit == "min") {
    ms_per_unit = 60'000;
  } else if (unit == "h") {
    ms_per_unit = 3'600'000;
  } else {
    return absl::InvalidArgumentError("'" + s + "': unknown unit '" + unit +
                                      "' (use ms, s, m or h)");
  }
  const double ms = value * ms_per_unit;
  if (ms > 1e15) return absl::InvalidArgumentError("duration '" + s + "' is too long");
  return std::chrono::milliseconds(static_cast<int64_t>(std::llround(ms)));
}

std::string FormatDuration(std::chrono::milliseconds d) {
  const int64_t ms = d.count();
  if (ms != 0 && ms % 3'600'000 == 0) return std::to_string(ms / 3'600'000) + "h";
  if (ms != 0 && ms % 60'000 == 0) return std::to_string(ms / 60'000) + "m";
  if (ms % 1000 == 0) return std::to_string(ms / 1000) + "s";
  return std::to_string(ms) + "ms";
}

}  // namespace ladder
