#include "server/fit_queries.h"

#include <absl/status/status.h>

#include <cmath>

#include "common/enums/enums.h"
#include "server/fit/family_comparison.h"
#include "server/fit/prediction.h"

namespace ladder {
namespace {

void SetInterval(const fit::Interval& in, v1::Interval* out) {
  out->set_estimate(in.estimate);
  out->set_lower(in.lower);
  out->set_upper(in.upper);
}

bool Positive(double v) { return std::isfinite(v) && v > 0; }

absl::Status CheckForm(const std::string& form, const char* field) {
  if (form.empty() || enums::Parse<fit::FitForm>(form)) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(field) + ": unknown form '" + form + "' (" +
                                    enums::NameList<fit::FitForm>() + ")");
}

}  // namespace

absl::StatusOr<std::vector<std::string>> FitQueries::Families(int64_t sweep_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    if (auto it = families_.find(sweep_id); it != families_.end()) return it->second;
  }
  auto sweep = fits_->GetSweep(sweep_id);
  if (!sweep.ok()) return sweep.status();
  std::vector<std::string> families(sweep->families().begin(), sweep->families().end());
  std::lock_guard<std::mutex> lock(mu_);
  families_.emplace(sweep_id, families);
  return families;
}

absl::Status FitQueries::CheckFamily(int64_t sweep_id, const std::string& family,
                                     const char* field) {
  auto families = Families(sweep_id);
  if (!families.ok()) return families.status();
  if (family.empty()) return absl::InvalidArgumentError(std::string(field) + ": required");
  std::string all;
  for (const auto& f : *families) {
    if (f == family) return absl::OkStatus();
    all += (all.empty() ? "" : ", ") + f;
  }
  return absl::InvalidArgumentError(std::string(field) + ": sweep " + std::to_string(sweep_id) +
                                    " has no family '" + family + "' (it has " + all + ")");
}

absl::StatusOr<StoredFit> FitQueries::FirstOk(int64_t sweep_id, const std::string& family,
                                              const std::vector<fit::FitForm>& forms) {
  std::string why;
  for (const fit::FitForm form : forms) {
    auto f = cache_->Find(sweep_id, family, form);
    if (f.ok() && f->result->ok()) return *f;
    why += (why.empty() ? "" : "; ") + std::string(enums::Name(form)) + ": " +
           (f.ok() ? std::string(fit::FitStatusName(f->result->status)) + " (" + f->result->reason +
                         ")"
                   : std::string("no fit yet"));
  }
  return absl::FailedPreconditionError("no usable fit for family '" + family + "' in sweep " +
                                       std::to_string(sweep_id) + ": " + why);
}

absl::StatusOr<v1::GetFitResponse> FitQueries::GetFit(const v1::GetFitRequest& req) {
  if (auto st = CheckForm(req.form(), "form"); !st.ok()) return st;
  if (!req.family().empty()) {
    if (auto st = CheckFamily(req.sweep_id(), req.family(), "family"); !st.ok()) return st;
  } else if (auto sweep = fits_->GetSweep(req.sweep_id()); !sweep.ok()) {
    return sweep.status();
  }
  auto fits = fits_->LatestFits(req.sweep_id(), req.family(), req.form());
  if (!fits.ok()) return fits.status();
  v1::GetFitResponse out;
  for (const auto& f : *fits) *out.add_fits() = FitToProto(f);
  return out;
}

absl::StatusOr<v1::ListFitHistoryResponse> FitQueries::History(
    const v1::ListFitHistoryRequest& req) {
  if (auto st = CheckForm(req.form(), "form"); !st.ok()) return st;
  if (!req.family().empty()) {
    if (auto st = CheckFamily(req.sweep_id(), req.family(), "family"); !st.ok()) return st;
  } else if (auto sweep = fits_->GetSweep(req.sweep_id()); !sweep.ok()) {
    return sweep.status();
  }
  auto fits = fits_->FitHistory(req.sweep_id(), req.family(), req.form());
  if (!fits.ok()) return fits.status();
  v1::ListFitHistoryResponse out;
  for (const auto& f : *fits) *out.add_fits() = FitToProto(f);
  return out;
}

absl::StatusOr<v1::PredictLossResponse> FitQueries::PredictLoss(const v1::PredictLossRequest& req) {
  const bool by_size = req.params() != 0 || req.tokens() != 0;
  const bool by_compute = req.compute() != 0;
  if (by_size == by_compute) {
    return absl::InvalidArgumentError(
        "compute: give either compute, or params and tokens (not both, not neither)");
  }
  if (by_size && !Positive(req.params()))
    return absl::InvalidArgumentError("params: must be positive");
  if (by_size && !Positive(req.tokens()))
    return absl::InvalidArgumentError("tokens: must be positive");
  if (by_compute && !Positive(req.compute()))
    return absl::InvalidArgumentError("compute: must be positive");
  if (auto st = CheckFamily(req.sweep_id(), req.family(), "family"); !st.ok()) return st;
  auto f = FirstOk(
      req.sweep_id(), req.family(),
      by_size
          ? std::vector<fit::FitForm>{fit::FitForm::kChinchilla, fit::FitForm::kDataConstrained}
          : std::vector<fit::FitForm>{fit::FitForm::kPowerLawCompute, fit::FitForm::kChinchilla});
  if (!f.ok()) return f.status();
  auto p = by_size ? fit::PredictLoss(*f->result, req.params(), req.tokens())
                   : fit::PredictLossAtCompute(*f->result, req.compute());
  if (!p.ok()) return p.status();
  v1::PredictLossResponse out;
  SetInterval(p->loss, out.mutable_loss());
  out.set_form(fit::FitFormName(f->result->form));
  out.set_fit_id(f->id);
  out.set_extrapolation_factor(p->extrapolation_factor);
  return out;
}

absl::StatusOr<v1::OptimalAllocationResponse> FitQueries::Optimal(
    const v1::OptimalAllocationRequest& req) {
  if (!Positive(req.compute())) return absl::InvalidArgumentError("compute: must be positive");
  if (auto st = CheckFamily(req.sweep_id(), req.family(), "family"); !st.ok()) return st;
  auto f =
      FirstOk(req.sweep_id(), req.family(), {fit::FitForm::kChinchilla, fit::FitForm::kIsoflop});
  if (!f.ok()) return f.status();
  auto a = fit::PredictOptimalAllocation(*f->result, req.compute());
  if (!a.ok()) return a.status();
  v1::OptimalAllocationResponse out;
  SetInterval(a->params, out.mutable_params());
  SetInterval(a->tokens, out.mutable_tokens());
  SetInterval(a->loss, out.mutable_loss());
  out.set_tokens_per_param(a->tokens_per_param);
  out.set_form(fit::FitFormName(f->result->form));
  out.set_fit_id(f->id);
  out.set_extrapolation_factor(a->extrapolation_factor);
  return out;
}

absl::StatusOr<v1::CompareFamiliesResponse> FitQueries::Compare(
    const v1::CompareFamiliesRequest& req) {
  if (auto st = CheckFamily(req.sweep_id(), req.base_family(), "base_family"); !st.ok()) return st;
  if (auto st = CheckFamily(req.sweep_id(), req.family(), "family"); !st.ok()) return st;
  if (req.base_family() == req.family()) {
    return absl::InvalidArgumentError("family: must differ from base_family");
  }
  if (req.min_compute() < 0 || !std::isfinite(req.min_compute())) {
    return absl::InvalidArgumentError("min_compute: must not be negative");
  }
  if (req.max_compute() < 0 || !std::isfinite(req.max_compute())) {
    return absl::InvalidArgumentError("max_compute: must not be negative");
  }
  if (req.min_compute() > 0 && req.max_compute() > 0 && req.max_compute() < req.min_compute()) {
    return absl::InvalidArgumentError("max_compute: must not be below min_compute");
  }
  if (req.points() < 0 || req.points() > 1000)
    return absl::InvalidArgumentError("points: must be in [0, 1000]");
  absl::Status last;
  for (const fit::FitForm form : {fit::FitForm::kPowerLawCompute, fit::FitForm::kChinchilla}) {
    auto base = FirstOk(req.sweep_id(), req.base_family(), {form});
    auto target = FirstOk(req.sweep_id(), req.family(), {form});
    if (!base.ok() || !target.ok()) {
      last = !base.ok() ? base.status() : target.status();
      continue;
    }
    auto curve = fit::CompareFamilies(*base->result, *target->result, req.min_compute(),
                                      req.max_compute(), req.points());
    if (!curve.ok()) return curve.status();
    v1::CompareFamiliesResponse out;
    for (const auto& p : *curve) {
      auto* q = out.add_points();
      q->set_compute(p.compute);
      SetInterval(p.gain, q->mutable_gain());
      q->set_extrapolation_factor(p.extrapolation_factor);
    }
    out.set_base_fit_id(base->id);
    out.set_fit_id(target->id);
    return out;
  }
  return last;
}

absl::StatusOr<std::vector<v1::Fit>> FitQueries::FitsAfter(int64_t sweep_id, int64_t after_id) {
  auto fits = fits_->FitsAfter(sweep_id, after_id);
  if (!fits.ok()) return fits.status();
  std::vector<v1::Fit> out;
  for (const auto& f : *fits) out.push_back(FitToProto(f));
  return out;
}

}  // namespace ladder
