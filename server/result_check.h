// What a worker reports as a run's result, checked before anything is stored.
//
// A result is the trainer's `result` event (worker/TRAINER_PROTOCOL.md) as
// JSON. It is refused, with the field at fault named, when it is not
// plausible for the run it claims to finish:
//   - final_eval_loss: finite, in (0, kMaxLoss] nats;
//   - tokens: present, within kTokenTolerance of the planned tokens (one
//     batch more is allowed: trainers finish the batch they are in);
//   - flops: present, finite, within kFlopsTolerance of the planned FLOPs
//     scaled to the tokens trained;
//   - every other number: finite and not negative, integers within int64.
// Strings are made storable: NUL characters (which PostgreSQL's text and
// jsonb cannot hold) become U+FFFD, as do invalid UTF-8 bytes.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

namespace ladder {

struct PlannedLimits {
  int64_t tokens = 0;        // planned D
  double flops = 0;          // planned exact FLOPs for D tokens
  int64_t batch_tokens = 0;  // one optimiser step's tokens (0: unknown)
};

struct CheckedResult {
  double final_eval_loss = 0;
  int64_t params_total = 0;
  int64_t params_non_embedding = 0;
  int64_t tokens = 0;
  int64_t unique_tokens = 0;
  double epochs = 0;
  double flops = 0;
  double flops_6n = 0;
  double wall_seconds = 0;
  std::string device;
  bool simulated = false;
  nlohmann::json json;  // the whole result, strings made storable
};

inline constexpr double kMaxLoss = 100.0;        // nats per token; ln(V) ~ 10.8 at V = 50k
inline constexpr double kTokenTolerance = 0.10;  // relative
inline constexpr double kFlopsTolerance = 0.25;  // relative, per token trained

// INVALID_ARGUMENT naming the field ("result_json.tokens: ...") when the
// result is not a plausible end of the planned run.
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
