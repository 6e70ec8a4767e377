#include "server/fit_queries.h"

#include <absl/status/status.h>

#include <cmath>
#include <optional>

#include "common/enums/enums.h"
#include "server/fit/data_budget.h"
#include "server/fit/family_comparison.h"
#include "server/fit/fit.h"
#include "server/fit/parameter_bounds.h"
#include "server/fit/prediction.h"
#include "server/fit/target_loss.h"

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

// The forms a question tries, in order, when the request names none.
const std::vector<fit::FitForm>& kComputeForms = fit::ComputeFormsByPreference();
const std::vector<fit::FitForm> kSizeForms = {fit::FitForm::kChinchilla,
                                              fit::FitForm::kDataConstrained};

void AddWarnings(const std::vector<std::string>& lines, const std::string& prefix,
                 google::protobuf::RepeatedPtrField<std::string>* out) {
  for (const std::string& line : lines) *out->Add() = prefix + line;
}

std::vector<fit::Observation> OfFamily(const std::vector<fit::Observation>& runs,
                                       const std::string& family) {
  std::vector<fit::Observation> out;
  for (const fit::Observation& r : runs) {
    if (r.family == family) out.push_back(r);
  }
  return out;
}

}  // namespace

absl::StatusOr<StoredFit> FitQueries::Choose(int64_t sweep_id, const std::string& family,
                                             const std::string& form,
                                             const std::vector<fit::FitForm>& defaults) {
  if (form.empty()) return FirstOk(sweep_id, family, defaults);
  return FirstOk(sweep_id, family, {*enums::Parse<fit::FitForm>(form)});  // CheckForm'ed
}

absl::StatusOr<std::vector<fit::Observation>> FitQueries::Runs(int64_t sweep_id, int64_t fit_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = runs_.find(sweep_id);
    // A fit newer than the runs read means results came in since (a refit
    // follows every new result): read them again.
    if (it != runs_.end() && it->second.fit_id >= fit_id) return it->second.runs;
  }
  auto runs = fits_->SweepRuns(sweep_id);
  if (!runs.ok()) return runs.status();
  std::lock_guard<std::mutex> lock(mu_);
  runs_[sweep_id] = {fit_id, *runs};
  return *runs;
}

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
  if (auto st = CheckForm(req.form(), "form"); !st.ok()) return st;
  if (auto st = CheckFamily(req.sweep_id(), req.family(), "family"); !st.ok()) return st;
  auto f = Choose(req.sweep_id(), req.family(), req.form(), by_size ? kSizeForms : kComputeForms);
  if (!f.ok()) return f.status();
  auto runs = Runs(req.sweep_id(), f->id);
  if (!runs.ok()) return runs.status();

  // Which fit answers once the data behind the target are known (beyond one
  // epoch, data_constrained where it can): fit::AnswerTargetLoss.
  std::optional<StoredFit> dc;
  if (auto found = cache_->Find(req.sweep_id(), req.family(), fit::FitForm::kDataConstrained);
      found.ok() && found->result->ok())
    dc = *found;
  fit::TargetQuestion question;
  question.params = req.params();
  question.tokens = req.tokens();
  question.compute = req.compute();
  question.form_named = !req.form().empty();
  auto a = fit::AnswerTargetLoss(*f->result, dc ? dc->result.get() : nullptr,
                                 OfFamily(*runs, req.family()), *runs, question);
  if (!a.ok()) return a.status();
  const StoredFit& answer = a->fit == f->result.get() ? *f : *dc;
  const fit::LossPrediction* p = &a->prediction;
  v1::PredictLossResponse out;
  SetInterval(p->loss, out.mutable_loss());
  SetInterval(p->run_loss, out.mutable_run_loss());
  out.set_form(fit::FitFormName(answer.result->form));
  out.set_fit_id(answer.id);
  out.set_extrapolation_factor(p->extrapolation_factor);
  out.set_target_tokens(a->target_tokens);
  out.set_unique_tokens(a->corpus_tokens);
  out.set_epochs(a->epochs);
  AddWarnings(fit::BoundWarnings(answer.result->form, answer.result->parameters), "",
              out.mutable_warnings());
  if (!a->epochs_warning.empty()) out.add_warnings(a->epochs_warning);
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
  auto runs = Runs(req.sweep_id(), f->id);
  if (!runs.ok()) return runs.status();
  const double corpus = fit::CorpusTokens(*runs);
  v1::OptimalAllocationResponse out;
  SetInterval(a->params, out.mutable_params());
  SetInterval(a->tokens, out.mutable_tokens());
  SetInterval(a->loss, out.mutable_loss());
  out.set_tokens_per_param(a->tokens_per_param);
  out.set_form(fit::FitFormName(f->result->form));
  out.set_fit_id(f->id);
  out.set_extrapolation_factor(a->extrapolation_factor);
  out.set_unique_tokens(corpus);
  if (corpus > 0 && Positive(a->tokens.estimate)) out.set_epochs(a->tokens.estimate / corpus);
  AddWarnings(fit::BoundWarnings(f->result->form, f->result->parameters), "",
              out.mutable_warnings());
  if (std::string line = fit::BeyondOneEpochWarning(a->tokens.estimate, corpus); !line.empty()) {
    out.add_warnings(line);
  }
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
  if (auto st = CheckForm(req.form(), "form"); !st.ok()) return st;
  // Both families are compared under one form: the first both have usable.
  const std::vector<fit::FitForm> forms =
      req.form().empty() ? kComputeForms
                         : std::vector<fit::FitForm>{*enums::Parse<fit::FitForm>(req.form())};
  absl::Status last;
  for (const fit::FitForm form : forms) {
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
    out.set_form(fit::FitFormName(form));
    for (const StoredFit* f : {&*base, &*target}) {
      AddWarnings(fit::BoundWarnings(form, f->result->parameters), f->result->family + ": ",
                  out.mutable_warnings());
    }
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
