// An in-memory FitSource and RefitStore for unit tests (no database).
#pragma once

#include <absl/status/status.h>

#include <chrono>
#include <functional>
#include <map>
#include <mutex>
#include <string>
#include <vector>

#include "server/fit_data.h"

namespace ladder {

class FakeFitData final : public FitSource, public RefitStore {
 public:
  void AddSweep(int64_t id, const std::string& kind, const std::vector<std::string>& families) {
    std::lock_guard<std::mutex> lock(mu_);
    v1::Sweep s;
    s.set_id(id);
    s.set_kind(kind);
    s.set_spec_json("{}");
    for (const auto& f : families) s.add_families(f);
    sweeps_[id] = s;
  }
  // The stored spec of sweep `id` (AddSweep gives "{}").
  void SetSpecJson(int64_t id, const std::string& spec_json) {
    std::lock_guard<std::mutex> lock(mu_);
    sweeps_[id].set_spec_json(spec_json);
  }
  // What LoadObservations returns for sweep `id` (none until set).
  void SetObservations(int64_t id, std::vector<fit::Observation> runs) {
    std::lock_guard<std::mutex> lock(mu_);
    observations_[id] = std::move(runs);
  }
  // Stores a fit as if a refit had (for FitSource reads).
  void AddFit(int64_t sweep_id, fit::FitResult fit) { (void)StoreFit(sweep_id, fit); }
  // Runs inside every LoadObservations (e.g. to advance a FakeClock: the
  // refit "took" that long).
  void OnLoad(std::function<void()> fn) {
    std::lock_guard<std::mutex> lock(mu_);
    on_load_ = std::move(fn);
  }
  // The runs SweepRuns returns for a sweep (LoadObservations stays empty).
  void SetRuns(int64_t sweep_id, std::vector<fit::Observation> runs) {
    std::lock_guard<std::mutex> lock(mu_);
    runs_[sweep_id] = std::move(runs);
  }
  int sweep_runs_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return sweep_runs_calls_;
  }
  void SetNeedingRefit(std::vector<int64_t> ids) {
    std::lock_guard<std::mutex> lock(mu_);
    needing_refit_ = std::move(ids);
  }

  int get_sweep_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return get_sweep_calls_;
  }
  int latest_calls() const {
    std::lock_guard<std::mutex> lock(mu_);
    return latest_calls_;
  }
  // The sweep of every StoreFit, in order.
  std::vector<int64_t> stored_sweeps() const {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<int64_t> out;
    for (const auto& f : fits_) out.push_back(f.sweep_id);
    return out;
  }
  std::vector<StoredFit> stored() const {
    std::lock_guard<std::mutex> lock(mu_);
    return fits_;
  }

  absl::StatusOr<v1::Sweep> GetSweep(int64_t sweep_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++get_sweep_calls_;
    auto it = sweeps_.find(sweep_id);
    if (it == sweeps_.end())
      return absl::NotFoundError("sweep " + std::to_string(sweep_id) + " does not exist");
    return it->second;
  }
  absl::StatusOr<std::vector<StoredFit>> LatestFits(int64_t sweep_id, const std::string& family,
                                                    const std::string& form) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++latest_calls_;
    std::map<std::pair<std::string, fit::FitForm>, StoredFit> latest;
    for (const auto& f : Matching(sweep_id, family, form))
      latest[{f.result->family, f.result->form}] = f;
    std::vector<StoredFit> out;
    for (auto& [key, f] : latest) out.push_back(f);
    return out;
  }
  absl::StatusOr<std::vector<StoredFit>> FitHistory(int64_t sweep_id, const std::string& family,
                                                    const std::string& form) override {
    std::lock_guard<std::mutex> lock(mu_);
    return Matching(sweep_id, family, form);
  }
  absl::StatusOr<std::vector<StoredFit>> FitsAfter(int64_t sweep_id, int64_t after_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    std::vector<StoredFit> out;
    for (const auto& f : fits_) {
      if (f.sweep_id == sweep_id && f.id > after_id) out.push_back(f);
    }
    return out;
  }
  absl::StatusOr<std::vector<fit::Observation>> SweepRuns(int64_t sweep_id) override {
    std::lock_guard<std::mutex> lock(mu_);
    ++sweep_runs_calls_;
    auto it = runs_.find(sweep_id);
    return it == runs_.end() ? std::vector<fit::Observation>{} : it->second;
  }
  absl::StatusOr<std::vector<fit::Observation>> LoadObservations(int64_t sweep_id) override {
    std::function<void()> on_load;
    std::vector<fit::Observation> runs;
    {
      std::lock_guard<std::mutex> lock(mu_);
      on_load = on_load_;
      if (auto it = observations_.find(sweep_id); it != observations_.end()) runs = it->second;
    }
    if (on_load) on_load();
    return runs;
  }
  absl::Status StoreFit(int64_t sweep_id, const fit::FitResult& fit) override {
    std::lock_guard<std::mutex> lock(mu_);
    StoredFit f;
    f.id = static_cast<int64_t>(fits_.size()) + 1;
    f.sweep_id = sweep_id;
    f.result = std::make_shared<const fit::FitResult>(fit);
    for (const auto& g : fits_) {
      if (g.sweep_id == sweep_id && g.result->family == fit.family && g.result->form == fit.form)
        f.version = std::max(f.version, g.version);
    }
    ++f.version;
    fits_.push_back(f);
    return absl::OkStatus();
  }
  absl::StatusOr<std::vector<int64_t>> SweepsNeedingRefit() override {
    std::lock_guard<std::mutex> lock(mu_);
    return needing_refit_;
  }

 private:
  std::vector<StoredFit> Matching(int64_t sweep_id, const std::string& family,
                                  const std::string& form) const {
    std::vector<StoredFit> out;
    for (const auto& f : fits_) {
      if (f.sweep_id == sweep_id && (family.empty() || f.result->family == family) &&
          (form.empty() || fit::FitFormName(f.result->form) == form))
        out.push_back(f);
    }
    return out;
  }

  mutable std::mutex mu_;
  std::map<int64_t, v1::Sweep> sweeps_;
  std::vector<StoredFit> fits_;
  std::vector<int64_t> needing_refit_;
  std::map<int64_t, std::vector<fit::Observation>> observations_;
  std::function<void()> on_load_;
  std::map<int64_t, std::vector<fit::Observation>> runs_;
  int sweep_runs_calls_ = 0;
  int get_sweep_calls_ = 0;
  int latest_calls_ = 0;
};

}  // namespace ladder
