#include "common/protocol/bounded_json.h"

namespace ladder::protocol {

using nlohmann::json;

std::optional<json> ParseBoundedJson(std::string_view text, std::string* error, int max_depth) {
  bool too_deep = false;
  // `depth` is the number of containers already open around this one.
  const json::parser_callback_t refuse_deep = [&](int depth, json::parse_event_t event, json&) {
    if ((event == json::parse_event_t::object_start || event == json::parse_event_t::array_start) &&
        depth >= max_depth) {
      too_deep = true;
      return false;  // dropped; the parser goes on (iteratively) to the end
    }
    return true;
  };
  json value;
  try {
    value = json::parse(text.begin(), text.end(), refuse_deep);
  } catch (const json::parse_error& e) {
    *error = "not JSON (byte " + std::to_string(e.byte) + ")";
    return std::nullopt;
  } catch (const json::out_of_range&) {
    // A number the parser cannot hold, e.g. 1e400 (nlohmann error 406).
    *error = "not JSON: a number out of range";
    return std::nullopt;
  } catch (const json::exception& e) {
    *error = "not JSON: parser error " + std::to_string(e.id);
    return std::nullopt;
  }
  if (too_deep) {
    *error = "not JSON: nested deeper than " + std::to_string(max_depth) + " levels";
    return std::nullopt;
  }
  return value;
}

}  // namespace ladder::protocol
