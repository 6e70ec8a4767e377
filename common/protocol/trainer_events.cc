#include "common/protocol/trainer_events.h"

#include <cmath>
#include <limits>
#include <type_traits>

#include "common/protocol/bounded_json.h"
#include "common/utf8.h"

namespace ladder::protocol {
namespace {

using nlohmann::json;
constexpr auto kRequired = Presence::kRequired;
constexpr auto kNullable = Presence::kNullable;
constexpr auto kOptional = Presence::kOptional;

template <class T>
struct TypeOf;
template <>
struct TypeOf<int64_t> {
  static constexpr FieldType kType = FieldType::kInteger;
};
template <>
struct TypeOf<double> {
  static constexpr FieldType kType = FieldType::kNumber;
};
template <>
struct TypeOf<std::string> {
  static constexpr FieldType kType = FieldType::kString;
};
template <>
struct TypeOf<bool> {
  static constexpr FieldType kType = FieldType::kBool;
};
template <>
struct TypeOf<json> {
  static constexpr FieldType kType = FieldType::kObject;
};
template <class T>
struct TypeOf<std::optional<T>> : TypeOf<T> {};

// Reads one field into its member: the JSON value's type checked before it
// is read, so nothing here throws.
class FieldReader {
 public:
  FieldReader(const json& object, const char* event) : object_(object), event_(event) {}

  template <class E>
  bool Read(const Field<E>& field, E* out) {
    const auto it = object_.find(field.name);
    if (it == object_.end()) {
      if (field.presence == kOptional) return true;
      return Fail(field.name, "is required",
                  std::string(event_) + ": missing field '" + field.name + "'");
    }
    const json& v = *it;
    const bool null_allowed = field.presence != kRequired;
    return std::visit([&](auto member) { return Into(field.name, v, null_allowed, out->*member); },
                      field.member);
  }

  std::optional<ReadError> error() const { return error_; }

 private:
  bool Fail(const char* name, const std::string& problem, std::string message = "") {
    if (message.empty()) message = std::string(event_) + ": field '" + name + "' " + problem;
    error_ = ReadError{name, problem, std::move(message)};
    return false;
  }

  template <class T>
  bool Into(const char* name, const json& v, bool null_allowed, std::optional<T>& out) {
    if (v.is_null()) {
      out.reset();
      return true;
    }
    T value{};
    if (!Into(name, v, null_allowed, value)) return false;
    out = std::move(value);
    return true;
  }

  bool Into(const char* name, const json& v, bool null_allowed, int64_t& out) {
    if (v.is_number_unsigned()) {
      // Above INT64_MAX it would wrap to a negative count: refused.
      const uint64_t u = v.get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        return Fail(name, "is out of range");
      }
      out = static_cast<int64_t>(u);
    } else if (v.is_number_integer()) {
      out = v.get<int64_t>();
    } else if (v.is_number_float() && v.get<double>() == std::floor(v.get<double>())) {
      // Below 2^63 in magnitude, so the cast is defined (the parser gives no inf or NaN).
      const double d = v.get<double>();
      if (!(std::fabs(d) < 9.2e18)) return Fail(name, "is out of range");
      out = static_cast<int64_t>(d);
    } else {
      return Fail(name, null_allowed ? "must be an integer or null" : "must be an integer");
    }
    if (out < 0) return Fail(name, "must not be negative");
    return true;
  }

  bool Into(const char* name, const json& v, bool null_allowed, double& out) {
    if (!v.is_number()) {
      return Fail(name, null_allowed ? "must be a number or null" : "must be a number");
    }
    out = v.get<double>();
    return true;
  }

  bool Into(const char* name, const json& v, bool null_allowed, std::string& out) {
    if (!v.is_string())
      return Fail(name, null_allowed ? "must be a string or null" : "must be a string");
    out = v.get<std::string>();
    return true;
  }

  bool Into(const char* name, const json& v, bool null_allowed, bool& out) {
    if (!v.is_boolean()) {
      return Fail(name, null_allowed ? "must be true, false or null" : "must be true or false");
    }
    out = v.get<bool>();
    return true;
  }

  bool Into(const char* name, const json& v, bool null_allowed, json& out) {
    if (!v.is_object())
      return Fail(name, null_allowed ? "must be an object or null" : "must be an object");
    out = v;
    return true;
  }

  const json& object_;
  const char* event_;
  std::optional<ReadError> error_;
};

template <class T>
json ToJson(const T& value) {
  if constexpr (std::is_same_v<T, double>) {
    if (!std::isfinite(value)) return nullptr;
  }
  return value;
}

template <class T>
json ToJson(const std::optional<T>& value) {
  return value ? ToJson(*value) : json();
}

template <class E>
bool HasValue(const E& event, const Field<E>& field) {
  return std::visit(
      [&](auto member) {
        using T = std::decay_t<decltype(event.*member)>;
        if constexpr (std::is_same_v<T, std::optional<int64_t>> ||
                      std::is_same_v<T, std::optional<double>>) {
          return (event.*member).has_value();
        } else {
          return true;
        }
      },
      field.member);
}

ReadError LineError(std::string message) { return ReadError{"", "", std::move(message)}; }

template <class E>
std::optional<ReadError> ReadBody(const json& object, TrainerEvent* out) {
  E event;
  if (auto error = ReadEvent(object, &event)) return error;
  out->body = std::move(event);
  return std::nullopt;
}

std::optional<ReadError> ReadObject(const json& object, TrainerEvent* out) {
  if (!object.is_object()) return LineError("not a JSON object");
  const auto name_it = object.find("event");
  if (name_it == object.end() || !name_it->is_string()) return LineError("no 'event' string");
  out->name = name_it->get<std::string>();
  const std::string& name = out->name;
  if (name == EventSchema<StartedEvent>::kName) return ReadBody<StartedEvent>(object, out);
  if (name == EventSchema<ProgressEvent>::kName) return ReadBody<ProgressEvent>(object, out);
  if (name == EventSchema<CheckpointEvent>::kName) return ReadBody<CheckpointEvent>(object, out);
  if (name == EventSchema<ResultEvent>::kName) return ReadBody<ResultEvent>(object, out);
  if (name == EventSchema<ErrorEvent>::kName) return ReadBody<ErrorEvent>(object, out);
  return LineError("unknown event '" + std::string(utf8::Prefix(name, 40)) + "'");
}

}  // namespace

// ---------------------------------------------------------------- the tables

const std::vector<Field<StartedEvent>>& EventSchema<StartedEvent>::Fields() {
  using E = StartedEvent;
  static const std::vector<Field<E>> fields = {
      {"trainer", kRequired, &E::trainer},
      {"version", kRequired, &E::version},
      {"simulated", kRequired, &E::simulated},
      {"device", kRequired, &E::device},
      {"threads", kRequired, &E::threads},
      {"params_total", kRequired, &E::params_total},
      {"params_non_embedding", kRequired, &E::params_non_embedding},
      {"flops_per_token", kRequired, &E::flops_per_token},
      {"flops_per_token_6n", kRequired, &E::flops_per_token_6n},
      {"total_steps", kRequired, &E::total_steps},
      {"resumed_from_step", kRequired, &E::resumed_from_step},
      {"resumed_from_tokens", kRequired, &E::resumed_from_tokens},
  };
  return fields;
}

const std::vector<Field<ProgressEvent>>& EventSchema<ProgressEvent>::Fields() {
  using E = ProgressEvent;
  static const std::vector<Field<E>> fields = {
      {"step", kRequired, &E::step},
      {"tokens", kRequired, &E::tokens},
      {"flops", kRequired, &E::flops},
      {"train_loss", kRequired, &E::train_loss},
      {"eval_loss", kNullable, &E::eval_loss},
      {"lr", kRequired, &E::lr},
      {"grad_norm", kRequired, &E::grad_norm},
      {"tokens_per_second", kRequired, &E::tokens_per_second},
      {"flops_per_second", kRequired, &E::flops_per_second},
      {"mfu", kNullable, &E::mfu},
  };
  return fields;
}

const std::vector<Field<CheckpointEvent>>& EventSchema<CheckpointEvent>::Fields() {
  using E = CheckpointEvent;
  static const std::vector<Field<E>> fields = {
      {"step", kRequired, &E::step},
      {"tokens", kRequired, &E::tokens},
  };
  return fields;
}

// The fourth column is the runs column (server/store/lease_store.cc); a new
// stored field needs a migration adding it, nullable.
const std::vector<Field<ResultEvent>>& EventSchema<ResultEvent>::Fields() {
  using E = ResultEvent;
  static const std::vector<Field<E>> fields = {
      {"final_eval_loss", kRequired, &E::final_eval_loss},
      {"final_train_loss", kNullable, &E::final_train_loss, kNoColumn},
      {"params_total", kRequired, &E::params_total, "params"},
      {"params_non_embedding", kRequired, &E::params_non_embedding, "non_embedding_params"},
      {"tokens", kRequired, &E::tokens},
      {"unique_tokens", kRequired, &E::unique_tokens},
      {"epochs", kRequired, &E::epochs},
      {"flops", kRequired, &E::flops},
      {"flops_6n", kRequired, &E::flops_6n, "flops_6nd"},
      {"wall_seconds", kRequired, &E::wall_seconds},
      {"device", kRequired, &E::device},
      {"simulated", kRequired, &E::simulated},
      {"details", kRequired, &E::details, kNoColumn},
      {"peak_memory_bytes", kOptional, &E::peak_memory_bytes},
      {"corpus_tokens", kOptional, &E::corpus_tokens},
  };
  return fields;
}

const std::vector<Field<ErrorEvent>>& EventSchema<ErrorEvent>::Fields() {
  using E = ErrorEvent;
  static const std::vector<Field<E>> fields = {
      {"kind", kRequired, &E::kind},
      {"message", kRequired, &E::message},
  };
  return fields;
}

// ---------------------------------------------------------------- fields

template <class E>
FieldType Field<E>::type() const {
  return std::visit(
      [](auto m) {
        using T = std::decay_t<decltype(std::declval<E&>().*m)>;
        return TypeOf<T>::kType;
      },
      member);
}

std::string_view FieldTypeName(FieldType type) {
  switch (type) {
    case FieldType::kInteger:
      return "integer";
    case FieldType::kNumber:
      return "number";
    case FieldType::kString:
      return "string";
    case FieldType::kBool:
      return "bool";
    case FieldType::kObject:
      return "object";
  }
  return "?";
}

template <class E>
std::string DocType(const Field<E>& field) {
  std::string out(FieldTypeName(field.type()));
  if (field.presence == kNullable) out += " or null";
  if (field.presence == kOptional) out += ", optional";
  return out;
}

// ---------------------------------------------------------------- reading

template <class E>
std::optional<ReadError> ReadEvent(const json& object, E* out) {
  if (!object.is_object()) return LineError("not a JSON object");
  FieldReader reader(object, EventSchema<E>::kName);
  for (const Field<E>& field : EventSchema<E>::Fields()) {
    if (!reader.Read(field, out)) return reader.error();
  }
  return std::nullopt;
}

std::optional<ReadError> ReadEventLine(std::string_view line, TrainerEvent* out) {
  std::string parse_error;
  const std::optional<json> object = ParseBoundedJson(line, &parse_error);
  if (!object) return LineError(parse_error);
  try {
    return ReadObject(*object, out);
  } catch (const std::exception& e) {
    // The reader checks each type before reading it, so this is not
    // expected; if it happens anyway, it is still this line's fault.
    return LineError(std::string("unreadable event: ") + e.what());
  }
}

// ---------------------------------------------------------------- writing

template <class E>
json WriteEvent(const E& event) {
  json out = json::object();
  out["event"] = EventSchema<E>::kName;
  for (const Field<E>& field : EventSchema<E>::Fields()) {
    if (field.presence == kOptional && !HasValue(event, field)) continue;
    out[field.name] = std::visit([&](auto member) { return ToJson(event.*member); }, field.member);
  }
  return out;
}

template <class E>
std::string WriteEventLine(const E& event) {
  return WriteEvent(event).dump(-1, ' ', false, json::error_handler_t::replace);
}

#define LADDER_PROTOCOL_EVENT(E)                                   \
  template struct Field<E>;                                        \
  template std::string DocType<E>(const Field<E>&);                \
  template std::optional<ReadError> ReadEvent<E>(const json&, E*); \
  template json WriteEvent<E>(const E&);                           \
  template std::string WriteEventLine<E>(const E&);
LADDER_PROTOCOL_EVENT(StartedEvent)
LADDER_PROTOCOL_EVENT(ProgressEvent)
LADDER_PROTOCOL_EVENT(CheckpointEvent)
LADDER_PROTOCOL_EVENT(ResultEvent)
LADDER_PROTOCOL_EVENT(ErrorEvent)
#undef LADDER_PROTOCOL_EVENT

}  // namespace ladder::protocol
