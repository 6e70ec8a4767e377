// JSON that another process wrote (a trainer's stdout line, a worker's
// report), parsed with a bound on nesting. nlohmann's parser is iterative,
// but copying, dumping and walking a value recurse once per level: a value
// nested 500,000 deep (a 1 MiB line of '[') parses, then overflows the stack
// of whoever copies it. Every reader of such input parses through here.
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>

namespace ladder::protocol {

// Far deeper than anything the protocol writes (its deepest value, a
// result's `details`, is 3 levels).
inline constexpr int kMaxJsonDepth = 64;

// Parses `text`. Never throws; on failure returns nullopt and sets `error`
// to one line without the text itself: "not JSON (byte 5)", "not JSON: a
// number out of range" (1e400), "not JSON: nested deeper than 64 levels".
std::optional<nlohmann::json> ParseBoundedJson(std::string_view text, std::string* error,
                                               int max_depth = kMaxJsonDepth);

}  // namespace ladder::protocol
