// The trainer's events (worker/TRAINER_PROTOCOL.md, "Out"): one JSON object
// per stdout line. Each event is a typed struct described by ONE field table
// (name, presence, member, and for the result the runs column it is stored
// in). The tables drive everything else: the one strict reader per event
// (the worker and the coordinator), the one writer per event (ladder-train,
// ladder-sim), the check of TRAINER_PROTOCOL.md's tables, and the SQL that
// stores a result's columns (server/store/lease_store.cc).
//
// Adding a field to an event: a member and a row in its table (here) and
// its row in worker/TRAINER_PROTOCOL.md's table (a test checks the two
// agree), the trainer that sets it and, for a stored result field, a
// migration adding the nullable column. A field that old trainers do not send must be
// Presence::kOptional.
//
// Needs only nlohmann/json (ladder-train builds with it alone). Pure
// functions: safe from any thread.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

namespace ladder::protocol {

// `started`: once, first.
struct StartedEvent {
  std::string trainer;
  std::string version;
  bool simulated = false;
  std::string device;
  int64_t threads = 0;
  int64_t params_total = 0;
  int64_t params_non_embedding = 0;
  double flops_per_token = 0;  // exact training FLOPs per token (3x forward)
  double flops_per_token_6n = 0;
  int64_t total_steps = 0;
  int64_t resumed_from_step = 0;
  int64_t resumed_from_tokens = 0;
};

// `progress`: every logging step.
struct ProgressEvent {
  int64_t step = 0;
  int64_t tokens = 0;
  double flops = 0;  // exact, cumulative
  double train_loss = 0;
  std::optional<double> eval_loss;
  double lr = 0;
  double grad_norm = 0;
  double tokens_per_second = 0;
  double flops_per_second = 0;
  std::optional<double> mfu;  // null when the device's peak is unknown
};

// `checkpoint`: after a checkpoint is durably written.
struct CheckpointEvent {
  int64_t step = 0;
  int64_t tokens = 0;
};

// `result`: once, last, on success.
struct ResultEvent {
  double final_eval_loss = 0;
  // Null when no step was logged in this attempt (a run resumed after its
  // last step, killed during the final eval).
  std::optional<double> final_train_loss;
  int64_t params_total = 0;
  int64_t params_non_embedding = 0;
  int64_t tokens = 0;
  int64_t unique_tokens = 0;
  double epochs = 0;
  double flops = 0;  // exact
  double flops_6n = 0;
  double wall_seconds = 0;
  std::string device;
  bool simulated = false;
  nlohmann::json details = nlohmann::json::object();  // anything else worth keeping
  std::optional<int64_t> peak_memory_bytes;           // the attempt's peak
  // The training split's size in tokens as the trainer used it (after any
  // data.unique_tokens cap): the corpus a prediction's epochs are counted
  // on. unique_tokens says only what this run saw.
  std::optional<int64_t> corpus_tokens;
};

// `error`: once, last, on failure. `kind` as the trainer wrote it (the
// worker maps kinds it does not know to "internal").
struct ErrorEvent {
  std::string kind;
  std::string message;
};

// ---------------------------------------------------------------- field tables

enum class FieldType { kInteger, kNumber, kString, kBool, kObject };

enum class Presence {
  kRequired,  // present and not null
  kNullable,  // present, may be null
  kOptional,  // may be absent or null (a field newer than some trainers)
};

template <class E>
using MemberPtr =
    std::variant<int64_t E::*, double E::*, std::string E::*, bool E::*, nlohmann::json E::*,
                 std::optional<int64_t> E::*, std::optional<double> E::*>;

// The runs column of a result field that is kept only in the result's JSON.
inline constexpr const char* kNoColumn = "";

template <class E>
struct Field {
  const char* name;
  Presence presence;
  MemberPtr<E> member;
  // Result fields only: the runs column it is stored in; nullptr means the
  // column named like the field, kNoColumn none.
  const char* column = nullptr;

  FieldType type() const;
  // The runs column, or "" for none.
  std::string_view column_name() const { return column == nullptr ? name : column; }
};

// Integers: non-negative, below 2^63; an integral float (2000000.0) counts.
// Numbers: any JSON number (the parser holds no inf or NaN).

// Each event's wire name and field table (in the order fields are read, so
// the first error reported is the first field in the table at fault).
template <class E>
struct EventSchema;
template <>
struct EventSchema<StartedEvent> {
  static constexpr const char* kName = "started";
  static const std::vector<Field<StartedEvent>>& Fields();
};
template <>
struct EventSchema<ProgressEvent> {
  static constexpr const char* kName = "progress";
  static const std::vector<Field<ProgressEvent>>& Fields();
};
template <>
struct EventSchema<CheckpointEvent> {
  static constexpr const char* kName = "checkpoint";
  static const std::vector<Field<CheckpointEvent>>& Fields();
};
template <>
struct EventSchema<ResultEvent> {
  static constexpr const char* kName = "result";
  static const std::vector<Field<ResultEvent>>& Fields();
};
template <>
struct EventSchema<ErrorEvent> {
  static constexpr const char* kName = "error";
  static const std::vector<Field<ErrorEvent>>& Fields();
};

// "integer", "number", "string", "bool", "object".
std::string_view FieldTypeName(FieldType type);

// How TRAINER_PROTOCOL.md's field tables write a field's type: the type
// name, then " or null" (kNullable) or ", optional" (kOptional).
template <class E>
std::string DocType(const Field<E>& field);

// ---------------------------------------------------------------- reading

struct ReadError {
  std::string field;    // the field at fault; "" when the line as a whole is
  std::string problem;  // for a field: "is required", "must be an integer", ...
  std::string message;  // all of it: "progress: missing field 'tokens'", "not JSON (byte 5)"
};

// Reads one event's fields from a JSON object (an "event" key, if any, is
// not looked at; other extra keys are ignored: the protocol may grow).
// Returns the first field at fault, in table order. Never throws. Messages:
//   "progress: missing field 'tokens'" (problem "is required"),
//   "progress: field 'step' must be an integer" / "is out of range" /
//   "must not be negative"; "... must be a number" / "must be a number or
//   null" / "must be a string" / "must be true or false" / "must be an object".
template <class E>
std::optional<ReadError> ReadEvent(const nlohmann::json& object, E* out);

using EventBody =
    std::variant<StartedEvent, ProgressEvent, CheckpointEvent, ResultEvent, ErrorEvent>;

struct TrainerEvent {
  std::string name;  // "started", "progress", ...
  EventBody body;
};

// Reads one stdout line (without its newline). Never throws: any line,
// however hostile (numbers like 1e400 that no double holds, deep nesting,
// invalid UTF-8), gives an event or an error. Errors besides ReadEvent's:
//   "not JSON (byte 5)", "not JSON: a number out of range", "not a JSON
//   object", "no 'event' string", "unknown event 'foo'" (cut to 40 bytes).
// Messages are valid UTF-8 and never quote the line.
std::optional<ReadError> ReadEventLine(std::string_view line, TrainerEvent* out);

// ---------------------------------------------------------------- writing

// The event as a JSON object with its "event" key. Non-finite numbers
// become null; kOptional fields without a value are left out.
template <class E>
nlohmann::json WriteEvent(const E& event);

// WriteEvent as one line (no newline). Never throws: invalid UTF-8 in a
// string (a file name in a message, say) becomes U+FFFD.
template <class E>
std::string WriteEventLine(const E& event);

}  // namespace ladder::protocol
