#include "server/backtests.h"

#include <absl/status/status.h>

#include <algorithm>
#include <utility>

#include "common/enums/enums.h"
#include "common/logging.h"

namespace ladder {

struct Backtests::Job {
  Resolved request;
  std::string key;   // slot + fit ids: identical requests share the job
  std::string slot;  // sweep, family filter, form: the cache entry it fills
  bool done = false;
  absl::StatusOr<v1::BacktestResponse> result = absl::UnavailableError("not computed");
};

namespace {

void SetInterval(const fit::Interval& in, v1::Interval* out) {
  out->set_estimate(in.estimate);
  out->set_lower(in.lower);
  out->set_upper(in.upper);
}

std::string SlotOf(int64_t sweep_id, const std::string& family, fit::FitForm form) {
  return std::to_string(sweep_id) + "|" + family + "|" + std::string(enums::Name(form));
}

std::string KeyOf(const std::string& slot, const std::vector<int64_t>& fit_ids) {
  std::string key = slot + "|";
  for (int64_t id : fit_ids) key += std::to_string(id) + ",";
  return key;
}

absl::Status Unavailable(int64_t sweep_id, const std::string& why) {
  return absl::UnavailableError("backtest of sweep " + std::to_string(sweep_id) + " " + why);
}

}  // namespace

v1::BacktestResponse BacktestToProto(int64_t sweep_id, const fit::BacktestResult& result) {
  v1::BacktestResponse out;
  out.set_sweep_id(sweep_id);
  out.set_form(std::string(enums::Name(result.form)));
  for (const auto& cut : result.cuts) {
    auto* c = out.add_cuts();
    c->set_family(cut.family);
    c->set_cut_compute(cut.cut_compute);
    c->set_runs_fitted(cut.runs_fitted);
    c->set_status(fit::FitStatusName(cut.status));
    c->set_reason(cut.reason);
    for (const auto& p : cut.parameters) {
      auto* fp = c->add_parameters();
      fp->set_name(p.name);
      SetInterval(p.value, fp->mutable_value());
      fp->set_at_bound(p.at_bound);
      if (!p.at_bound.empty()) fp->set_bound(p.bound);
    }
    for (const auto& p : cut.predictions) {
      auto* q = c->add_predictions();
      q->set_run_id(p.run_id);
      q->set_compute(p.compute);
      q->set_params(p.params);
      q->set_tokens(p.tokens);
      q->set_actual_loss(p.actual_loss);
      SetInterval(p.predicted, q->mutable_predicted_loss());
      SetInterval(p.run_interval, q->mutable_run_loss());
      q->set_relative_error(p.relative_error);
      q->set_covered(p.covered);
      q->set_extrapolation_factor(p.extrapolation_factor);
    }
  }
  for (const auto& b : result.by_factor) {
    auto* o = out.add_by_factor();
    o->set_min_factor(b.min_factor);
    o->set_max_factor(b.max_factor);
    o->set_predictions(b.predictions);
    o->set_mean_abs_relative_error(b.mean_abs_relative_error);
    o->set_max_abs_relative_error(b.max_abs_relative_error);
    o->set_mean_relative_error(b.mean_relative_error);
    o->set_coverage(b.coverage);
  }
  return out;
}

Backtests::Backtests(FitSource* fits, RefitStore* data, CoordinatorMetrics* metrics,
                     Options options, Clock* clock)
    : fits_(fits), data_(data), metrics_(metrics), options_(options), clock_(clock) {}

Backtests::~Backtests() { Stop(); }

void Backtests::Start() {
  std::lock_guard<std::mutex> lock(mu_);
  if (!threads_.empty()) return;
  stopping_ = false;
  for (int i = 0; i < std::max(1, options_.compute_threads); ++i)
    threads_.emplace_back([this] { Loop(); });
}

void Backtests::Stop() {
  std::vector<std::thread> threads;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
    for (auto& job : queue_) in_flight_.erase(job->key);
    queue_.clear();
    threads.swap(threads_);  // exactly one caller joins, even if several stop at once
  }
  work_cv_.notify_all();
  done_cv_.notify_all();
  for (auto& t : threads) t.join();
}

int Backtests::computed() const {
  std::lock_guard<std::mutex> lock(mu_);
  return computed_;
}

absl::StatusOr<fit::FitForm> Backtests::ResolveForm(int64_t sweep_id, const std::string& form) {
  using fit::FitForm;
  if (form.empty()) {
    // The shared-E form where the sweep has a usable one (the default for
    // families trained on the same data), else the compute law.
    auto shared =
        fits_->LatestFits(sweep_id, "", std::string(enums::Name(FitForm::kPowerLawSharedE)));
    if (!shared.ok()) return shared.status();
    for (const auto& f : *shared) {
      if (f.result->ok()) return FitForm::kPowerLawSharedE;
    }
    return FitForm::kPowerLawCompute;
  }
  const auto parsed = enums::Parse<FitForm>(form);
  if (!parsed) {
    return absl::InvalidArgumentError("form: unknown form '" + form + "' (" +
                                      enums::NameList<FitForm>() + ")");
  }
  if (*parsed == FitForm::kIsoflop) {
    return absl::InvalidArgumentError(
        "form: isoflop has no loss law to predict later runs with (choose power_law_compute, "
        "chinchilla, data_constrained or power_law_shared_e)");
  }
  return *parsed;
}

absl::StatusOr<std::vector<int64_t>> Backtests::FitVersion(int64_t sweep_id,
                                                           const std::string& family,
                                                           fit::FitForm form) {
  // A shared-E backtest refits every family jointly: any family's new fit
  // is a new version of it.
  const std::string filter = form == fit::FitForm::kPowerLawSharedE ? "" : family;
  auto fits = fits_->LatestFits(sweep_id, filter, std::string(enums::Name(form)));
  if (!fits.ok()) return fits.status();
  // A form the refit loop does not fit for this sweep: any refit (of the
  // other forms) is what says the runs changed.
  if (fits->empty()) fits = fits_->LatestFits(sweep_id, filter, "");
  if (!fits.ok()) return fits.status();
  std::vector<int64_t> ids;
  for (const auto& f : *fits) ids.push_back(f.id);
  std::sort(ids.begin(), ids.end());
  return ids;
}

absl::StatusOr<Backtests::Resolved> Backtests::Resolve(const v1::BacktestRequest& req) {
  auto sweep = fits_->GetSweep(req.sweep_id());
  if (!sweep.ok()) return sweep.status();
  if (!req.family().empty()) {
    const auto& families = sweep->families();
    if (std::find(families.begin(), families.end(), req.family()) == families.end()) {
      std::string all;
      for (const auto& f : families) all += (all.empty() ? "" : ", ") + f;
      return absl::InvalidArgumentError("family: sweep " + std::to_string(req.sweep_id()) +
                                        " has no family '" + req.family() + "' (it has " + all +
                                        ")");
    }
  }
  Resolved r;
  r.sweep_id = req.sweep_id();
  r.family = req.family();
  auto form = ResolveForm(r.sweep_id, req.form());
  if (!form.ok()) return form.status();
  r.form = *form;
  auto ids = FitVersion(r.sweep_id, r.family, r.form);
  if (!ids.ok()) return ids.status();
  r.fit_ids = *std::move(ids);
  return r;
}

absl::StatusOr<v1::BacktestResponse> Backtests::Run(const v1::BacktestRequest& request,
                                                    std::chrono::milliseconds wait) {
  auto resolved = Resolve(request);
  if (!resolved.ok()) return resolved.status();
  const std::string slot = SlotOf(resolved->sweep_id, resolved->family, resolved->form);
  const std::string key = KeyOf(slot, resolved->fit_ids);
  // Answer a little before the caller's deadline, so "still computing"
  // reaches it rather than its own DEADLINE_EXCEEDED.
  const auto margin = std::min<std::chrono::milliseconds>(std::chrono::seconds(1), wait / 10);
  const auto deadline = clock_->Now() + std::min(wait - margin, options_.max_wait);

  std::unique_lock<std::mutex> lock(mu_);
  if (stopping_ || threads_.empty())
    return Answered("unavailable", Unavailable(resolved->sweep_id, "not served: stopping"));
  if (auto it = cache_.find(slot); it != cache_.end() && it->second.fit_ids == resolved->fit_ids) {
    lru_.splice(lru_.begin(), lru_, it->second.lru);
    v1::BacktestResponse out = it->second.response;
    out.set_cached(true);
    return Answered("cached", out);
  }
  std::shared_ptr<Job> job;
  if (auto it = in_flight_.find(key); it != in_flight_.end()) {
    job = it->second;  // an identical request is being computed: share it
  } else {
    if (static_cast<int>(queue_.size()) >= options_.max_queued)
      return Answered("unavailable", Unavailable(resolved->sweep_id,
                                                 "not queued: too many backtests waiting; retry"));
    job = std::make_shared<Job>();
    job->request = *std::move(resolved);
    job->key = key;
    job->slot = slot;
    in_flight_.emplace(key, job);
    queue_.push_back(job);
    work_cv_.notify_one();
  }
  clock_->WaitUntil(lock, done_cv_, deadline, [&] { return job->done || stopping_; });
  if (job->done) return Answered("computed", job->result);
  if (stopping_)
    return Answered("unavailable", Unavailable(job->request.sweep_id, "not served: stopping"));
  return Answered("still_computing", Unavailable(job->request.sweep_id, "still computing; retry"));
}

absl::StatusOr<v1::BacktestResponse> Backtests::Answered(const char* answer,
                                                         absl::StatusOr<v1::BacktestResponse> out) {
  if (metrics_) metrics_->CountBacktestAnswer(answer);
  return out;
}

absl::StatusOr<v1::BacktestResponse> Backtests::Compute(const Resolved& r) {
  const auto start = clock_->Now();
  auto runs = data_->LoadObservations(r.sweep_id);
  if (!runs.ok()) return runs.status();
  fit::FitOptions options;
  options.threads = options_.fit_threads;
  options.bootstrap_resamples = options_.bootstrap_resamples;
  options.seed = options_.seed;
  std::vector<std::string> families;
  if (!r.family.empty()) families.push_back(r.family);
  auto result = fit::Backtest(r.form, *runs, families, options);
  if (!result.ok()) return result.status();
  v1::BacktestResponse out = BacktestToProto(r.sweep_id, *result);
  for (int64_t id : r.fit_ids) out.add_fit_ids(id);
  const double seconds = std::chrono::duration<double>(clock_->Now() - start).count();
  out.set_compute_seconds(seconds);
  LOG_INFO << "backtest of sweep " << r.sweep_id << " (" << enums::Name(r.form)
           << (r.family.empty() ? "" : ", " + r.family) << "): " << out.cuts_size() << " cuts from "
           << runs->size() << " runs in " << seconds << " s";
  return out;
}

void Backtests::Loop() {
  std::unique_lock<std::mutex> lock(mu_);
  while (true) {
    work_cv_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
    if (stopping_) return;
    std::shared_ptr<Job> job = queue_.front();
    queue_.pop_front();
    lock.unlock();
    const auto start = clock_->Now();
    absl::StatusOr<v1::BacktestResponse> result = Compute(job->request);
    if (metrics_) {
      metrics_->ObserveBacktest(std::chrono::duration<double>(clock_->Now() - start).count(),
                                result.ok() ? "ok" : "failed");
    }
    if (!result.ok())
      LOG_WARN << "backtest of sweep " << job->request.sweep_id << ": " << result.status();
    lock.lock();
    job->result = std::move(result);
    job->done = true;
    if (job->result.ok()) Remember(job->slot, job->request.fit_ids, *job->result);
    in_flight_.erase(job->key);
    ++computed_;
    done_cv_.notify_all();
  }
}

void Backtests::Remember(const std::string& slot, const std::vector<int64_t>& fit_ids,
                         const v1::BacktestResponse& response) {
  if (options_.cache_entries == 0) return;
  if (auto it = cache_.find(slot); it != cache_.end()) {
    // A slow computation for older fits must not replace a newer answer.
    if (!it->second.fit_ids.empty() && !fit_ids.empty() &&
        it->second.fit_ids.back() > fit_ids.back())
      return;
    lru_.erase(it->second.lru);
    cache_.erase(it);
  }
  while (cache_.size() >= options_.cache_entries) {
    cache_.erase(lru_.back());
    lru_.pop_back();
  }
  lru_.push_front(slot);
  cache_.emplace(slot, CacheEntry{fit_ids, response, lru_.begin()});
}

}  // namespace ladder
