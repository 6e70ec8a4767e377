#include "worker/trainer_event.h"

#include <absl/status/status.h>

#include <cmath>
#include <limits>
#include <nlohmann/json.hpp>

#include "common/utf8.h"

namespace ladder::worker {
namespace {

using nlohmann::json;

// Reads the fields of one event object, remembering the first error. Reading
// after an error is a no-op, so a parser reads straight through and checks once.
class FieldReader {
 public:
  FieldReader(const json& object, std::string_view event) : object_(object), event_(event) {}

  int64_t Int(const char* name) {
    const json* v = Find(name);
    if (v == nullptr) return 0;
    // An unsigned above INT64_MAX would wrap to a negative count: refused.
    int64_t out = 0;
    if (v->is_number_unsigned()) {
      const uint64_t u = v->get<uint64_t>();
      if (u > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
        Fail(name, "is out of range");
        return 0;
      }
      out = static_cast<int64_t>(u);
    } else if (v->is_number_integer()) {
      out = v->get<int64_t>();
    } else if (v->is_number_float() && v->get<double>() == std::floor(v->get<double>())) {
      // Below 2^63 in magnitude, so the cast is defined (the parser gives no inf or NaN).
      const double d = v->get<double>();
      if (!(std::fabs(d) < 9.2e18)) {
        Fail(name, "is out of range");
        return 0;
      }
      out = static_cast<int64_t>(d);
    } else {
      Fail(name, "must be an integer");
      return 0;
    }
    if (out < 0) {
      Fail(name, "must not be negative");
      return 0;
    }
    return out;
  }

  double Number(const char* name) {
    const json* v = Find(name);
    if (v == nullptr) return 0;
    if (!v->is_number()) {
      Fail(name, "must be a number");
      return 0;
    }
    return v->get<double>();
  }

  std::optional<double> NumberOrNull(const char* name) {
    const json* v = Find(name);
    if (v == nullptr || v->is_null()) return std::nullopt;
    if (!v->is_number()) {
      Fail(name, "must be a number or null");
      return std::nullopt;
    }
    return v->get<double>();
  }

  std::string String(const char* name) {
    const json* v = Find(name);
    if (v == nullptr) return "";
    if (!v->is_string()) {
      Fail(name, "must be a string");
      return "";
    }
    return v->get<std::string>();
  }

  bool Bool(const char* name) {
    const json* v = Find(name);
    if (v == nullptr) return false;
    if (!v->is_boolean()) {
      Fail(name, "must be true or false");
      return false;
    }
    return v->get<bool>();
  }

  void Object(const char* name) {
    const json* v = Find(name);
    if (v != nullptr && !v->is_object()) Fail(name, "must be an object");
  }

  const absl::Status& status() const { return status_; }

 private:
  const json* Find(const char* name) {
    if (!status_.ok()) return nullptr;
    const auto it = object_.find(name);
    if (it == object_.end()) {
      status_ = absl::InvalidArgumentError(std::string(event_) + ": missing field '" + name + "'");
      return nullptr;
    }
    return &*it;
  }
  void Fail(const char* name, const char* what) {
    status_ = absl::InvalidArgumentError(std::string(event_) + ": field '" + name + "' " + what);
  }

  const json& object_;
  std::string_view event_;
  absl::Status status_;
};

StartedEvent ReadStarted(FieldReader& r) {
  StartedEvent e;
  e.trainer = r.String("trainer");
  e.version = r.String("version");
  e.simulated = r.Bool("simulated");
  e.device = r.String("device");
  e.threads = r.Int("threads");
  e.params_total = r.Int("params_total");
  e.params_non_embedding = r.Int("params_non_embedding");
  e.flops_per_token = r.Number("flops_per_token");
  e.flops_per_token_6n = r.Number("flops_per_token_6n");
  e.total_steps = r.Int("total_steps");
  e.resumed_from_step = r.Int("resumed_from_step");
  e.resumed_from_tokens = r.Int("resumed_from_tokens");
  return e;
}

ProgressEvent ReadProgress(FieldReader& r) {
  ProgressEvent e;
  e.step = r.Int("step");
  e.tokens = r.Int("tokens");
  e.flops = r.Number("flops");
  e.train_loss = r.Number("train_loss");
  e.eval_loss = r.NumberOrNull("eval_loss");
  e.lr = r.Number("lr");
  e.grad_norm = r.Number("grad_norm");
  e.tokens_per_second = r.Number("tokens_per_second");
  e.flops_per_second = r.Number("flops_per_second");
  e.mfu = r.NumberOrNull("mfu");
  return e;
}

CheckpointEvent ReadCheckpoint(FieldReader& r) {
  CheckpointEvent e;
  e.step = r.Int("step");
  e.tokens = r.Int("tokens");
  return e;
}

ResultEvent ReadResult(FieldReader& r) {
  ResultEvent e;
  e.final_eval_loss = r.Number("final_eval_loss");
  e.final_train_loss = r.Number("final_train_loss");
  e.params_total = r.Int("params_total");
  e.params_non_embedding = r.Int("params_non_embedding");
  e.tokens = r.Int("tokens");
  e.unique_tokens = r.Int("unique_tokens");
  e.epochs = r.Number("epochs");
  e.flops = r.Number("flops");
  e.flops_6n = r.Number("flops_6n");
  e.wall_seconds = r.Number("wall_seconds");
  e.device = r.String("device");
  e.simulated = r.Bool("simulated");
  r.Object("details");
  return e;
}

ErrorEvent ReadError(FieldReader& r) {
  ErrorEvent e;
  const std::string kind = r.String("kind");
  std::string message = r.String("message");
  if (kind == "bad_config" || kind == "data" || kind == "diverged" || kind == "non_finite" ||
      kind == "internal") {
    e.reason = kind;
  } else {
    e.reason = "internal";
    message = "trainer error kind '" + kind + "': " + message;
  }
  for (char& c : message) {  // one line, the unknown kind included
    if (c == '\n' || c == '\r') c = ' ';
  }
  e.message = std::string(utf8::Prefix(message, kMaxErrorMessage));
  return e;
}

absl::StatusOr<TrainerEvent> ReadEvent(const json& object) {
  if (!object.is_object()) return absl::InvalidArgumentError("not a JSON object");
  const auto name_it = object.find("event");
  if (name_it == object.end() || !name_it->is_string()) {
    return absl::InvalidArgumentError("no 'event' string");
  }
  TrainerEvent event;
  event.name = name_it->get<std::string>();
  FieldReader reader(object, event.name);
  if (event.name == "started") {
    event.body = ReadStarted(reader);
  } else if (event.name == "progress") {
    event.body = ReadProgress(reader);
  } else if (event.name == "checkpoint") {
    event.body = ReadCheckpoint(reader);
  } else if (event.name == "result") {
    event.body = ReadResult(reader);
  } else if (event.name == "error") {
    event.body = ReadError(reader);
  } else {
    const std::string shown = std::string(utf8::Prefix(event.name, 40));
    return absl::InvalidArgumentError("unknown event '" + shown + "'");
  }
  if (!reader.status().ok()) return reader.status();
  return event;
}

}  // namespace

absl::StatusOr<TrainerEvent> ParseTrainerEvent(std::string_view line) {
  json object;
  try {
    object = json::parse(line.begin(), line.end());
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError("not JSON (byte " + std::to_string(e.byte) + ")");
  } catch (const json::out_of_range& e) {
    // A number the parser cannot hold, e.g. 1e400 (nlohmann error 406).
    return absl::InvalidArgumentError("not JSON: a number out of range");
  } catch (const json::exception& e) {
    return absl::InvalidArgumentError("not JSON: parser error " + std::to_string(e.id));
  }
  try {
    return ReadEvent(object);
  } catch (const std::exception& e) {
    // FieldReader checks each type before reading it, so this is not expected;
    // if it happens anyway, it is still this line's fault, never the worker's.
    return absl::InvalidArgumentError(std::string("unreadable event: ") + e.what());
  }
}

}  // namespace ladder::worker
