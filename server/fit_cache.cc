#include "server/fit_cache.h"

#include <absl/status/status.h>

#include "common/enums/enums.h"

namespace ladder {

absl::StatusOr<std::vector<StoredFit>> FitCache::Latest(int64_t sweep_id) {
  const auto now = clock_->Now();
  {
    std::lock_guard<std::mutex> lock(mu_);
    auto it = entries_.find(sweep_id);
    if (it != entries_.end() && now - it->second.read < ttl_) return it->second.fits;
  }
  auto fits = fits_->LatestFits(sweep_id, "", "");
  if (!fits.ok()) return fits.status();
  std::lock_guard<std::mutex> lock(mu_);
  if (entries_.size() > 1000) entries_.clear();
  entries_[sweep_id] = Entry{*fits, now};
  return *fits;
}

absl::StatusOr<StoredFit> FitCache::Find(int64_t sweep_id, const std::string& family,
                                         fit::FitForm form) {
  auto fits = Latest(sweep_id);
  if (!fits.ok()) return fits.status();
  for (const auto& f : *fits) {
    if (f.result->family == family && f.result->form == form) return f;
  }
  return absl::NotFoundError("sweep " + std::to_string(sweep_id) + " has no " +
                             std::string(enums::Name(form)) + " fit for family '" + family +
                             "' yet");
}

void FitCache::Invalidate(int64_t sweep_id) {
  std::lock_guard<std::mutex> lock(mu_);
  entries_.erase(sweep_id);
}

}  // namespace ladder
