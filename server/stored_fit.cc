#include "server/stored_fit.h"

#include <utility>

#include "server/fit/fit_json.h"
#include "server/fit/parameter_bounds.h"

namespace ladder {

absl::StatusOr<StoredFit> StoredFitFromRow(const store::FitRow& row) {
  StoredFit out;
  out.id = row.id;
  out.sweep_id = row.sweep_id;
  out.version = row.version;
  out.created_unix_ms = row.created_unix_ms;
  auto result = fit::FitResultFromJson(row.fit);
  if (!result.ok()) {
    return absl::InternalError("fit " + std::to_string(row.id) +
                               " cannot be read back: " + std::string(result.status().message()));
  }
  out.result = std::make_shared<const fit::FitResult>(*std::move(result));
  return out;
}

absl::StatusOr<std::vector<StoredFit>> StoredFitsFromRows(const std::vector<store::FitRow>& rows) {
  std::vector<StoredFit> out;
  out.reserve(rows.size());
  for (const auto& row : rows) {
    auto f = StoredFitFromRow(row);
    if (!f.ok()) return f.status();
    out.push_back(*std::move(f));
  }
  return out;
}

fit::Observation ObservationFromRow(const store::ObservationRow& row) {
  fit::Observation o;
  o.run_id = row.run_id;
  o.family = row.family;
  o.params = row.params;
  o.tokens = row.tokens;
  o.flops = row.flops;
  o.flops_6nd = row.flops_6nd;
  o.loss = row.loss;
  o.unique_tokens = row.unique_tokens;
  o.budget = row.budget;
  o.corpus_tokens = row.corpus_tokens;
  o.curve.reserve(row.curve.size());
  for (const auto& p : row.curve) o.curve.push_back({p.tokens, p.flops, p.loss});
  return o;
}

std::vector<fit::Observation> ObservationsFromRows(const std::vector<store::ObservationRow>& rows) {
  std::vector<fit::Observation> out;
  out.reserve(rows.size());
  for (const auto& row : rows) out.push_back(ObservationFromRow(row));
  return out;
}

v1::Fit FitToProto(const StoredFit& f) {
  const fit::FitResult& r = *f.result;
  v1::Fit p;
  p.set_id(f.id);
  p.set_sweep_id(f.sweep_id);
  p.set_family(r.family);
  p.set_form(fit::FitFormName(r.form));
  p.set_version(f.version);
  p.set_status(fit::FitStatusName(r.status));
  p.set_reason(r.reason);
  for (const auto& param : r.parameters) {
    auto* fp = p.add_parameters();
    fp->set_name(param.name);
    fp->mutable_value()->set_estimate(param.value.estimate);
    fp->mutable_value()->set_lower(param.value.lower);
    fp->mutable_value()->set_upper(param.value.upper);
    fp->set_at_bound(param.at_bound);
    if (!param.at_bound.empty()) fp->set_bound(param.bound);
  }
  for (const std::string& w : fit::BoundWarnings(r.form, r.parameters)) p.add_warnings(w);
  p.set_runs_used(r.runs_used);
  p.set_rmse_log_loss(r.rmse_log_loss);
  p.set_holdout_relative_error(r.holdout_relative_error);
  p.set_bootstrap_resamples(r.bootstrap_resamples);
  p.set_fit_seconds(r.fit_seconds);
  p.set_created_unix_ms(f.created_unix_ms);
  p.set_flops_count(fit::FlopsCountName(r.flops_count));
  p.set_max_trained_flops(r.max_trained_flops);
  if (const auto it = r.details.find("shared_with"); it != r.details.end() && it->is_array()) {
    for (const auto& family : *it) {
      if (family.is_string()) p.add_shared_with(family.get<std::string>());
    }
  }
  return p;
}

}  // namespace ladder
