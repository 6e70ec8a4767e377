#include "server/refit_loop.h"

#include <nlohmann/json.hpp>

#include "common/logging.h"
#include "server/fit/data_budget.h"
#include "server/fit/fit.h"
#include "server/fit/parameter_bounds.h"
#include "server/fit/prediction.h"
#include "server/fit/shared_e_fit.h"
#include "server/fit/target_loss.h"

namespace ladder {

std::vector<fit::FitForm> FormsForSweep(enums::SweepKind kind,
                                        const std::vector<fit::Observation>& runs) {
  using enums::SweepKind;
  using fit::FitForm;
  if (kind == SweepKind::kIsoflop)
    return {FitForm::kPowerLawCompute, FitForm::kChinchilla, FitForm::kIsoflop};
  if (kind == SweepKind::kDataConstrained) return {FitForm::kDataConstrained, FitForm::kChinchilla};
  if (kind == SweepKind::kImported) {
    std::vector<FitForm> forms = {FitForm::kPowerLawCompute, FitForm::kChinchilla};
    bool budgets = false, unique = false;
    for (const auto& r : runs) {
      budgets |= r.budget > 0;
      unique |= r.unique_tokens > 0;
    }
    if (budgets) forms.push_back(FitForm::kIsoflop);
    if (unique) forms.push_back(FitForm::kDataConstrained);
    return forms;
  }
  return {FitForm::kPowerLawCompute, FitForm::kChinchilla};
}

bool FitsSharedE(const v1::Sweep& sweep) {
  const nlohmann::json spec = nlohmann::json::parse(sweep.spec_json(), nullptr, false);
  if (spec.is_object()) {
    const auto fit = spec.find("fit");
    if (fit != spec.end() && fit->is_object()) {
      const auto shared = fit->find("shared_e");
      if (shared != fit->end() && shared->is_boolean()) return shared->get<bool>();
    }
  }
  return sweep.families_size() >= 2;
}

RefitLoop::RefitLoop(RefitStore* data, FitCache* cache, CoordinatorMetrics* metrics,
                     Options options, Clock* clock)
    : data_(data), cache_(cache), metrics_(metrics), options_(options), clock_(clock) {}

RefitLoop::~RefitLoop() { Stop(); }

void RefitLoop::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (thread_.joinable()) return;
  stopping_ = false;
  thread_ = std::thread([this] { Loop(); });
}

void RefitLoop::Stop() {
  std::thread thread;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    ++changes_;
    thread.swap(thread_);  // exactly one caller joins, even if several stop at once
  }
  cv_.notify_all();
  if (thread.joinable()) thread.join();
}

void RefitLoop::Schedule(int64_t sweep_id) {
  {
    std::lock_guard<std::mutex> lock(mu_);
    // The first result after a refit sets the time; later ones ride along,
    // so a steady stream of results cannot postpone the refit for ever.
    auto due = clock_->Now() + options_.debounce;
    if (auto it = not_before_.find(sweep_id); it != not_before_.end())
      due = std::max(due, it->second);
    due_.emplace(sweep_id, due);
    ++changes_;
  }
  cv_.notify_all();
}

void RefitLoop::OnAttemptEnded(const store::AttemptEnd& end, enums::AttemptOutcome outcome) {
  if (outcome == enums::AttemptOutcome::kSucceeded) Schedule(end.sweep_id);
}

int RefitLoop::completed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return completed_;
}

bool RefitLoop::AwaitCompleted(int n, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return completed_cv_.wait_for(lock, timeout, [&] { return completed_ >= n; });
}

void RefitLoop::Loop() {
  // Catch up on results that arrived while no coordinator was refitting.
  if (auto pending = data_->SweepsNeedingRefit(); pending.ok()) {
    for (int64_t s : *pending) Schedule(s);
  } else {
    LOG_WARN << "refit: cannot list sweeps needing a refit: " << pending.status();
  }
  std::unique_lock<std::mutex> lock(mu_);
  while (!stopping_) {
    // The earliest due sweep (none: wait for a Schedule).
    auto next = due_.begin();
    for (auto it = due_.begin(); it != due_.end(); ++it) {
      if (it->second < next->second) next = it;
    }
    const Clock::SteadyTime deadline = next == due_.end() ? Clock::SteadyTime::max() : next->second;
    if (next == due_.end() || deadline > clock_->Now()) {
      const uint64_t seen = changes_;
      clock_->WaitUntil(lock, cv_, deadline, [&] { return changes_ != seen; });
      continue;
    }
    const int64_t sweep = next->first;
    due_.erase(next);
    lock.unlock();
    const auto start = clock_->Now();
    absl::Status st = RefitNow(sweep);
    if (!st.ok()) {
      LOG_WARN << "refit of sweep " << sweep << ": " << st;
      if (metrics_) {
        metrics_->ObserveRefit(std::chrono::duration<double>(clock_->Now() - start).count(),
                               "failed");
      }
    }
    lock.lock();
    const auto end = clock_->Now();
    not_before_[sweep] = end + std::chrono::duration_cast<Clock::SteadyTime::duration>(
                                   (end - start) * options_.pacing);
    ++completed_;
    completed_cv_.notify_all();
  }
}

namespace {

// Every fit of one refit: each family's forms of the sweep's kind, then the
// shared-E fit over all families when the sweep has it. A family with no
// runs yet still gets its (insufficient_data) fits.
std::vector<fit::FitResult> FitSweep(
    const v1::Sweep& sweep, const std::vector<fit::Observation>& runs,
    const std::map<std::string, std::vector<fit::Observation>>& by_family,
    const fit::FitOptions& options) {
  // An unknown kind (none today) gets the forms of a grid.
  const enums::SweepKind kind =
      enums::Parse<enums::SweepKind>(sweep.kind()).value_or(enums::SweepKind::kGrid);
  std::map<std::string, std::vector<fit::Observation>> members;
  for (const std::string& family : sweep.families()) {
    auto it = by_family.find(family);
    members[family] = it == by_family.end() ? std::vector<fit::Observation>{} : it->second;
  }
  std::vector<fit::FitResult> out;
  for (const std::string& family : sweep.families()) {
    for (fit::FitForm form : FormsForSweep(kind, runs)) {
      out.push_back(fit::FitScalingLaw(form, members[family], options));
      out.back().family = family;  // also for an empty family (insufficient data)
    }
  }
  if (FitsSharedE(sweep)) {
    for (auto& [family, result] : fit::FitSharedE(members, options)) out.push_back(result);
  }
  return out;
}

}  // namespace

void RefitLoop::PublishTargets(
    const v1::Sweep& sweep, const std::vector<fit::Observation>& runs,
    const std::map<std::string, std::vector<fit::Observation>>& by_family,
    const std::vector<fit::FitResult>& results) {
  const std::string s = std::to_string(sweep.id());
  const double target_compute =
      nlohmann::json::parse(sweep.spec_json(), nullptr, false).value("target_compute", 0.0);
  for (const std::string& family : sweep.families()) {
    // The fit a prediction at the target would use (FitQueries::PredictLoss
    // with no form named: the preference order, then fit::AnswerTargetLoss).
    const fit::FitResult* chosen = nullptr;
    const fit::FitResult* data_constrained = nullptr;
    for (fit::FitForm form : fit::ComputeFormsByPreference()) {
      for (const fit::FitResult& r : results) {
        if (!chosen && r.family == family && r.form == form && r.ok()) chosen = &r;
      }
    }
    for (const fit::FitResult& r : results) {
      if (r.family == family && r.form == fit::FitForm::kDataConstrained && r.ok())
        data_constrained = &r;
    }
    auto it = by_family.find(family);
    if (!chosen || it == by_family.end()) continue;
    fit::TargetQuestion question;
    question.compute = target_compute > 0 ? target_compute : 100 * chosen->max_trained_flops;
    auto answer = fit::AnswerTargetLoss(*chosen, data_constrained, it->second, runs, question);
    if (!answer.ok()) continue;
    metrics_->SetPredictedLoss(s, family, question.compute, answer->prediction.loss.estimate);
    if (answer->epochs > 0) metrics_->SetPredictedEpochs(s, family, answer->epochs);
  }
}

absl::Status RefitLoop::RefitNow(int64_t sweep_id) {
  const auto start = clock_->Now();
  auto sweep = data_->GetSweep(sweep_id);
  if (!sweep.ok()) return sweep.status();
  auto runs = data_->LoadObservations(sweep_id);
  if (!runs.ok()) return runs.status();

  fit::FitOptions options;
  options.threads = options_.fit_threads;
  options.bootstrap_resamples = options_.bootstrap_resamples;
  options.seed = options_.seed;
  const auto by_family = fit::GroupByFamily(*runs);
  const std::vector<fit::FitResult> results = FitSweep(*sweep, *runs, by_family, options);
  int ok = 0, failed = 0;
  for (const fit::FitResult& result : results) {
    if (absl::Status saved = data_->StoreFit(sweep_id, result); !saved.ok()) return saved;
    if (result.ok()) ++ok;
    if (result.status == fit::FitStatus::kFailed) ++failed;
    if (metrics_ && result.ok()) {
      const std::string s = std::to_string(sweep_id);
      const std::string f = fit::FitFormName(result.form);
      for (const auto& p : result.parameters)
        metrics_->SetFitParameter(s, result.family, f, p.name, p.value.estimate);
      metrics_->SetParametersAtBound(s, result.family, f,
                                     fit::ParametersAtBound(result.parameters));
    }
  }
  if (metrics_) PublishTargets(*sweep, *runs, by_family, results);
  if (cache_) cache_->Invalidate(sweep_id);
  const double seconds = std::chrono::duration<double>(clock_->Now() - start).count();
  // The status convention deploy/prometheus/alerts.yml relies on: "ok" when
  // some fit converged, "failed" when the optimiser gave up on one (data
  // enough but no usable fit), else "insufficient_data" (early in a ladder).
  if (metrics_)
    metrics_->ObserveRefit(seconds, ok > 0 ? "ok" : failed > 0 ? "failed" : "insufficient_data");
  LOG_INFO << "refit sweep " << sweep_id << ": " << results.size() << " fits stored (" << ok
           << " ok) from " << runs->size() << " runs in " << seconds << " s";
  return absl::OkStatus();
}

}  // namespace ladder
