#include "server/result_check.h"

#include <absl/status/status.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

#include "common/utf8.h"

namespace ladder {
namespace {

using nlohmann::json;

constexpr char kReplacement[] = "\xEF\xBF\xBD";  // U+FFFD in UTF-8
constexpr double kMaxInt64 = 9.2e18;

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

// A number field: absent -> `fallback` (or an error when required).
absl::StatusOr<double> Number(const json& r, const char* field, bool required,
                              double fallback = 0) {
  auto it = r.find(field);
  if (it == r.end() || it->is_null()) {
    if (required) return Bad(field, "is required");
    return fallback;
  }
  if (!it->is_number()) return Bad(field, "must be a number");
  const double v = it->get<double>();
  if (!std::isfinite(v)) return Bad(field, "must be finite");
  if (v < 0) return Bad(field, "must not be negative, got " + Num(v));
  return v;
}

absl::StatusOr<int64_t> Integer(const json& r, const char* field, bool required) {
  auto v = Number(r, field, required);
  if (!v.ok()) return v.status();
  if (*v > kMaxInt64) return Bad(field, "is out of range (" + Num(*v) + ")");
  return static_cast<int64_t>(std::llround(*v));
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
  json r = json::parse(result_json, nullptr, /*allow_exceptions=*/false);
  if (!r.is_object()) return absl::InvalidArgumentError("result_json: is not a JSON object");
  ReplaceNulCharacters(r);
  CheckedResult out;

  auto loss = Number(r, "final_eval_loss", true);
  if (!loss.ok() || *loss <= 0 || *loss > kMaxLoss) {
    return Bad("final_eval_loss", "must be a finite number in (0, " + Num(kMaxLoss) + "] nats" +
                                      (loss.ok() ? ", got " + Num(*loss) : ""));
  }
  out.final_eval_loss = *loss;

  auto tokens = Integer(r, "tokens", true);
  if (!tokens.ok()) return tokens.status();
  out.tokens = *tokens;
  if (plan.tokens > 0) {
    const double planned = static_cast<double>(plan.tokens);
    const double low = planned * (1 - kTokenTolerance);
    const double slack = static_cast<double>(std::max<int64_t>(plan.batch_tokens, 0));
    const double high = planned * (1 + kTokenTolerance) + slack;
    const double got = static_cast<double>(out.tokens);
    if (got < low || got > high) {
      return Bad("tokens", Num(got) + " is not within " + Num(kTokenTolerance * 100) +
                               "% of the planned " + Num(planned) + " tokens");
    }
  }

  auto flops = Number(r, "flops", true);
  if (!flops.ok()) return flops.status();
  out.flops = *flops;
  if (plan.flops > 0 && plan.tokens > 0) {
    // The planned FLOPs for the tokens actually trained.
    const double expected =
        plan.flops * static_cast<double>(out.tokens) / static_cast<double>(plan.tokens);
    if (out.flops < expected * (1 - kFlopsTolerance) ||
        out.flops > expected * (1 + kFlopsTolerance)) {
      return Bad("flops", Num(out.flops) + " is not within " + Num(kFlopsTolerance * 100) +
                              "% of the planned " + Num(expected) + " for " + Num(out.tokens) +
                              " tokens");
    }
  }

  auto params = Integer(r, "params_total", false);
  if (!params.ok()) return params.status();
  out.params_total = *params;
  auto non_embedding = Integer(r, "params_non_embedding", false);
  if (!non_embedding.ok()) return non_embedding.status();
  out.params_non_embedding = *non_embedding;
  if (out.params_total > 0 && out.params_non_embedding > out.params_total) {
    return Bad("params_non_embedding", "must not exceed params_total");
  }
  auto unique = Integer(r, "unique_tokens", false);
  if (!unique.ok()) return unique.status();
  out.unique_tokens = *unique;
  auto epochs = Number(r, "epochs", false);
  if (!epochs.ok()) return epochs.status();
  out.epochs = *epochs;
  auto flops_6n = Number(r, "flops_6n", false);
  if (!flops_6n.ok()) return flops_6n.status();
  out.flops_6n = *flops_6n;
  auto wall = Number(r, "wall_seconds", false);
  if (!wall.ok()) return wall.status();
  out.wall_seconds = *wall;

  if (auto it = r.find("device"); it != r.end() && !it->is_null()) {
    if (!it->is_string()) return Bad("device", "must be a string");
    out.device = StorableText(it->get<std::string>(), 256);
  }
  if (auto it = r.find("simulated"); it != r.end() && !it->is_null()) {
    if (!it->is_boolean()) return Bad("simulated", "must be true or false");
    out.simulated = it->get<bool>();
  }
  out.json = std::move(r);
  return out;
}

}  // namespace ladder
