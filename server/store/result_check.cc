#include "server/store/result_check.h"

#include <absl/status/status.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/protocol/bounded_json.h"
#include "common/utf8.h"

namespace ladder {
namespace {

using nlohmann::json;

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8

std::string Num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.6g", v);
  return buf;
}

std::string WithoutNul(const std::string& s) {
  if (s.find('\0') == std::string::npos) return s;
  std::string out;
  for (char c : s) {
    if (c == '\0') {
      out += kReplacement;
    } else {
      out += c;
    }
  }
  return out;
}

absl::Status Bad(const std::string& field, const std::string& why) {
  return absl::InvalidArgumentError("result_json." + field + ": " + why);
}

using protocol::EventSchema;
using protocol::ResultEvent;

// Every number field finite and not negative (the reader already refused
// negative and out-of-range integers).
absl::Status CheckNumbers(const ResultEvent& r) {
  for (const auto& field : EventSchema<ResultEvent>::Fields()) {
    const double* v = nullptr;
    if (const auto* m = std::get_if<double ResultEvent::*>(&field.member)) {
      v = &(r.**m);
    } else if (const auto* o = std::get_if<std::optional<double> ResultEvent::*>(&field.member)) {
      if ((r.**o).has_value()) v = &*(r.**o);
    }
    if (v == nullptr) continue;
    if (!std::isfinite(*v)) return Bad(field.name, "must be finite");
    if (*v < 0) return Bad(field.name, "must not be negative, got " + Num(*v));
  }
  return absl::OkStatus();
}

// String fields storable in a text column.
void MakeStorable(ResultEvent& r) {
  for (const auto& field : EventSchema<ResultEvent>::Fields()) {
    if (const auto* m = std::get_if<std::string ResultEvent::*>(&field.member)) {
      r.** m = StorableText(r.**m, kMaxResultText);
    }
  }
}

absl::Status CheckAgainstPlan(const ResultEvent& r, const PlannedLimits& plan) {
  if (plan.tokens > 0) {
    const double planned = static_cast<double>(plan.tokens);
    const double low = planned * (1 - kTokenTolerance);
    const double slack = static_cast<double>(std::max<int64_t>(plan.batch_tokens, 0));
    const double high = planned * (1 + kTokenTolerance) + slack;
    const double got = static_cast<double>(r.tokens);
    if (got < low || got > high) {
      return Bad("tokens", Num(got) + " is not within " + Num(kTokenTolerance * 100) +
                               "% of the planned " + Num(planned) + " tokens");
    }
  }
  if (plan.flops > 0 && plan.tokens > 0) {
    // The planned FLOPs for the tokens actually trained.
    const double expected =
        plan.flops * static_cast<double>(r.tokens) / static_cast<double>(plan.tokens);
    if (r.flops < expected * (1 - kFlopsTolerance) || r.flops > expected * (1 + kFlopsTolerance)) {
      return Bad("flops", Num(r.flops) + " is not within " + Num(kFlopsTolerance * 100) +
                              "% of the planned " + Num(expected) + " for " + Num(r.tokens) +
                              " tokens");
    }
  }
  return absl::OkStatus();
}

}  // namespace

void ReplaceNulCharacters(json& j) {
  if (j.is_string()) {
    j = WithoutNul(j.get_ref<const std::string&>());
  } else if (j.is_array()) {
    for (auto& e : j) ReplaceNulCharacters(e);
  } else if (j.is_object()) {
    bool keys_clean = true;
    for (auto it = j.begin(); it != j.end(); ++it) {
      if (it.key().find('\0') != std::string::npos) keys_clean = false;
      ReplaceNulCharacters(it.value());
    }
    if (!keys_clean) {
      json clean = json::object();
      for (auto it = j.begin(); it != j.end(); ++it) clean[WithoutNul(it.key())] = it.value();
      j = std::move(clean);
    }
  }
}

std::string StorableText(const std::string& s, size_t max_bytes) {
  return std::string(utf8::Prefix(WithoutNul(s), max_bytes));
}

std::string StorableDump(const json& j) {
  return j.dump(-1, ' ', false, json::error_handler_t::replace);
}

absl::StatusOr<CheckedResult> CheckResult(const std::string& result_json,
                                          const PlannedLimits& plan) {
  std::string parse_error;
  std::optional<json> parsed = protocol::ParseBoundedJson(result_json, &parse_error);
  if (!parsed) return absl::InvalidArgumentError("result_json: " + parse_error);
  json& r = *parsed;
  if (!r.is_object()) return absl::InvalidArgumentError("result_json: is not a JSON object");
  ReplaceNulCharacters(r);
  CheckedResult out;
  if (auto error = protocol::ReadEvent(r, &out.result)) {
    if (error->field.empty()) return absl::InvalidArgumentError("result_json: " + error->message);
    return Bad(error->field, error->problem);
  }
  const ResultEvent& result = out.result;
  if (!(result.final_eval_loss > 0 && result.final_eval_loss <= kMaxLoss)) {
    return Bad("final_eval_loss", "must be a finite number in (0, " + Num(kMaxLoss) +
                                      "] nats, got " + Num(result.final_eval_loss));
  }
  if (absl::Status st = CheckNumbers(result); !st.ok()) return st;
  if (absl::Status st = CheckAgainstPlan(result, plan); !st.ok()) return st;
  if (result.params_total > 0 && result.params_non_embedding > result.params_total) {
    return Bad("params_non_embedding", "must not exceed params_total");
  }
  MakeStorable(out.result);
  out.json = std::move(r);
  return out;
}

}  // namespace ladder
