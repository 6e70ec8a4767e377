// What a worker reports as a run's result, checked before anything is stored.
//
// A result is the trainer's `result` event (worker/TRAINER_PROTOCOL.md) as
// JSON, read by the protocol's one reader (common/protocol/trainer_events.h):
// a required field missing or of the wrong type is refused, never read as a
// zero. It is refused, with the field at fault named, when it is not
// plausible for the run it claims to finish:
//   - final_eval_loss: finite, in (0, kMaxLoss] nats;
//   - tokens: within kTokenTolerance of the planned tokens (one
//     batch more is allowed: trainers finish the batch they are in);
//   - flops: finite, within kFlopsTolerance of the planned FLOPs
//     scaled to the tokens trained;
//   - params_non_embedding: at most params_total;
//   - every other number: finite and not negative, integers within int64.
// Strings are made storable: NUL characters (which PostgreSQL's text and
// jsonb cannot hold) become U+FFFD, as do invalid UTF-8 bytes; string fields
// are cut to kMaxResultText bytes.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/protocol/trainer_events.h"

namespace ladder {

struct PlannedLimits {
  int64_t tokens = 0;        // planned D
  double flops = 0;          // planned exact FLOPs for D tokens
  int64_t batch_tokens = 0;  // one optimiser step's tokens (0: unknown)
};

struct CheckedResult {
  protocol::ResultEvent result;  // typed, strings made storable
  nlohmann::json json;           // the whole result, strings made storable
};

inline constexpr double kMaxLoss = 100.0;        // nats per token; ln(V) ~ 10.8 at V = 50k
inline constexpr double kTokenTolerance = 0.10;  // relative
inline constexpr double kFlopsTolerance = 0.25;  // relative, per token trained
inline constexpr size_t kMaxResultText = 256;    // bytes of a string field

// INVALID_ARGUMENT naming the field ("result_json.tokens: ...") when the
// result is not a protocol `result` event ("result_json.device: is
// required", "result_json.epochs: must be a number") or not a plausible end
// of the planned run. Extra keys are kept in `json`.
absl::StatusOr<CheckedResult> CheckResult(const std::string& result_json,
                                          const PlannedLimits& plan);

// Replaces NUL characters in every string and key of `j` by U+FFFD.
void ReplaceNulCharacters(nlohmann::json& j);

// `s` with NUL characters replaced by U+FFFD, cut to at most `max_bytes` on
// a UTF-8 character boundary: storable in a text column.
std::string StorableText(const std::string& s, size_t max_bytes);

// j.dump() that never throws: invalid UTF-8 becomes U+FFFD.
std::string StorableDump(const nlohmann::json& j);

}  // namespace ladder
