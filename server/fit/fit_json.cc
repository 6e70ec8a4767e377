#include "server/fit/fit_json.h"

#include <cmath>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "server/fit/law_vector.h"
#include "server/fit/parameter_bounds.h"

namespace ladder::fit {

namespace {

using nlohmann::json;

json Number(double v) { return std::isfinite(v) ? json(v) : json(nullptr); }

json Numbers(const std::vector<double>& values) {
  json out = json::array();
  for (double v : values) out.push_back(Number(v));
  return out;
}

absl::Status Missing(const std::string& key, const std::string& what) {
  return absl::InvalidArgumentError("fit json: \"" + key + "\" " + what);
}

// A number or null (NaN); a missing key is an error when required.
absl::Status ReadNumber(const json& j, const std::string& key, bool required, double* out) {
  const auto it = j.find(key);
  if (it == j.end()) {
    if (required) return Missing(key, "is missing");
    *out = std::numeric_limits<double>::quiet_NaN();
    return absl::OkStatus();
  }
  if (it->is_null()) {
    *out = std::numeric_limits<double>::quiet_NaN();
  } else if (it->is_number()) {
    *out = it->get<double>();
  } else {
    return Missing(key, "is not a number");
  }
  return absl::OkStatus();
}

absl::Status ReadNumbers(const json& j, const std::string& key, std::vector<double>* out) {
  if (!j.is_array()) return Missing(key, "is not an array");
  out->clear();
  for (const json& v : j) {
    if (v.is_null()) {
      out->push_back(std::numeric_limits<double>::quiet_NaN());
    } else if (v.is_number()) {
      out->push_back(v.get<double>());
    } else {
      return Missing(key, "holds a non-number");
    }
  }
  return absl::OkStatus();
}

absl::Status ReadString(const json& j, const std::string& key, std::string* out) {
  const auto it = j.find(key);
  if (it == j.end()) return Missing(key, "is missing");
  if (it->is_null()) {
    out->clear();  // e.g. a NULL reason column
    return absl::OkStatus();
  }
  if (!it->is_string()) return Missing(key, "is not a string");
  *out = it->get<std::string>();
  return absl::OkStatus();
}

// Keys FitDetailsJson adds to FitResult::details (removed again on read).
constexpr const char* kLaw = "law";
constexpr const char* kLawNames = "law_names";
constexpr const char* kLawSamples = "law_samples";
constexpr const char* kMinTrainedFlops = "min_trained_flops";
constexpr const char* kMaxTrainedParamsTokens = "max_trained_params_tokens";

}  // namespace

json FitParametersJson(const FitResult& fit) {
  json out = json::object();
  for (const FitParameter& p : fit.parameters) {
    out[p.name] = {{"estimate", Number(p.value.estimate)},
                   {"lower", Number(p.value.lower)},
                   {"upper", Number(p.value.upper)},
                   {"at_bound", p.at_bound},
                   {"bound", Number(p.bound)}};
  }
  return out;
}

json FitDetailsJson(const FitResult& fit) {
  json out = fit.details.is_object() ? fit.details : json::object();
  out[kLaw] = Numbers(fit.law);
  out[kLawNames] = LawNames(fit.form);
  json samples = json::array();
  for (const std::vector<double>& s : fit.law_samples) samples.push_back(Numbers(s));
  out[kLawSamples] = samples;
  out[kMinTrainedFlops] = Number(fit.min_trained_flops);
  out[kMaxTrainedParamsTokens] = Number(fit.max_trained_params_tokens);
  return out;
}

json FitResultToJson(const FitResult& fit) {
  return {{"form", FitFormName(fit.form)},
          {"family", fit.family},
          {"status", FitStatusName(fit.status)},
          {"reason", fit.reason},
          {"parameters", FitParametersJson(fit)},
          {"details", FitDetailsJson(fit)},
          {"runs_used", fit.runs_used},
          {"rmse_log_loss", Number(fit.rmse_log_loss)},
          {"holdout_relative_error", Number(fit.holdout_relative_error)},
          {"bootstrap_resamples", fit.bootstrap_resamples},
          {"fit_seconds", Number(fit.fit_seconds)},
          {"flops_count", FlopsCountName(fit.flops_count)},
          {"max_trained_flops", Number(fit.max_trained_flops)}};
}

absl::StatusOr<FitResult> FitResultFromJson(const json& j) {
  if (!j.is_object()) return absl::InvalidArgumentError("fit json: not an object");
  FitResult fit;
  std::string text;
  if (absl::Status s = ReadString(j, "form", &text); !s.ok()) return s;
  if (!ParseFitForm(text, &fit.form)) return Missing("form", "is unknown: " + text);
  if (absl::Status s = ReadString(j, "status", &text); !s.ok()) return s;
  if (!ParseFitStatus(text, &fit.status)) return Missing("status", "is unknown: " + text);
  if (absl::Status s = ReadString(j, "flops_count", &text); !s.ok()) return s;
  if (!ParseFlopsCount(text, &fit.flops_count)) {
    return Missing("flops_count", "is unknown: " + text);
  }
  if (absl::Status s = ReadString(j, "family", &fit.family); !s.ok()) return s;
  if (absl::Status s = ReadString(j, "reason", &fit.reason); !s.ok()) return s;

  double v = 0;
  if (absl::Status s = ReadNumber(j, "runs_used", true, &v); !s.ok()) return s;
  fit.runs_used = std::isnan(v) ? 0 : static_cast<int>(v);
  if (absl::Status s = ReadNumber(j, "bootstrap_resamples", true, &v); !s.ok()) return s;
  fit.bootstrap_resamples = std::isnan(v) ? 0 : static_cast<int>(v);
  if (absl::Status s = ReadNumber(j, "rmse_log_loss", false, &fit.rmse_log_loss); !s.ok()) return s;
  if (absl::Status s = ReadNumber(j, "holdout_relative_error", false, &fit.holdout_relative_error);
      !s.ok()) {
    return s;
  }
  if (absl::Status s = ReadNumber(j, "fit_seconds", false, &fit.fit_seconds); !s.ok()) return s;
  if (absl::Status s = ReadNumber(j, "max_trained_flops", false, &fit.max_trained_flops); !s.ok()) {
    return s;
  }

  // Parameters, in the form's report order (jsonb does not keep key order),
  // then any other names in key order.
  const auto params = j.find("parameters");
  if (params == j.end() || !params->is_object()) return Missing("parameters", "is not an object");
  bool has_bounds = false;
  auto read_parameter = [&](const std::string& name) -> absl::Status {
    const json& p = (*params)[name];
    if (!p.is_object()) return Missing("parameters." + name, "is not an object");
    FitParameter out;
    out.name = name;
    for (auto [key, field] : {std::pair<const char*, double*>{"estimate", &out.value.estimate},
                              {"lower", &out.value.lower},
                              {"upper", &out.value.upper}}) {
      if (absl::Status s = ReadNumber(p, key, true, field); !s.ok()) {
        return Missing("parameters." + name + "." + key, "is missing or not a number");
      }
    }
    // Fits stored before bounds were flagged have no at_bound: marked below.
    if (p.contains("at_bound")) {
      has_bounds = true;
      if (absl::Status s = ReadString(p, "at_bound", &out.at_bound); !s.ok()) {
        return Missing("parameters." + name + ".at_bound", "is not a string");
      }
      if (absl::Status s = ReadNumber(p, "bound", false, &out.bound); !s.ok()) {
        return Missing("parameters." + name + ".bound", "is not a number");
      }
    }
    fit.parameters.push_back(out);
    return absl::OkStatus();
  };
  std::vector<std::string> order;
  const std::vector<double> dummy(LawSize(fit.form), 1.0);
  for (const auto& [name, value] : ReportedValues(fit.form, dummy)) {
    if (params->contains(name)) order.push_back(name);
  }
  for (auto it = params->begin(); it != params->end(); ++it) {
    if (std::find(order.begin(), order.end(), it.key()) == order.end()) order.push_back(it.key());
  }
  for (const std::string& name : order) {
    if (absl::Status s = read_parameter(name); !s.ok()) return s;
  }
  if (!has_bounds) MarkBounds(fit.form, &fit.parameters);

  const auto details = j.find("details");
  if (details == j.end() || !details->is_object()) return Missing("details", "is not an object");
  fit.details = *details;
  if (fit.details.contains(kLaw)) {
    if (absl::Status s = ReadNumbers(fit.details[kLaw], "details.law", &fit.law); !s.ok()) return s;
  }
  if (fit.details.contains(kLawSamples)) {
    const json& samples = fit.details[kLawSamples];
    if (!samples.is_array()) return Missing("details.law_samples", "is not an array");
    for (const json& s : samples) {
      std::vector<double> sample;
      if (absl::Status st = ReadNumbers(s, "details.law_samples[]", &sample); !st.ok()) return st;
      fit.law_samples.push_back(std::move(sample));
    }
  }
  if (absl::Status s = ReadNumber(fit.details, kMinTrainedFlops, false, &fit.min_trained_flops);
      !s.ok()) {
    return s;
  }
  if (absl::Status s =
          ReadNumber(fit.details, kMaxTrainedParamsTokens, false, &fit.max_trained_params_tokens);
      !s.ok()) {
    return s;
  }
  for (const char* key :
       {kLaw, kLawNames, kLawSamples, kMinTrainedFlops, kMaxTrainedParamsTokens}) {
    fit.details.erase(key);
  }
  if (fit.ok() && fit.law.size() != static_cast<size_t>(LawSize(fit.form))) {
    return Missing("details.law", "does not have the form's size");
  }
  return fit;
}

}  // namespace ladder::fit
