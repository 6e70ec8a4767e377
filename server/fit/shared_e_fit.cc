#include "server/fit/shared_e_fit.h"

namespace ladder::fit {

// Written by the shared-E fit's author (issue 11).
std::map<std::string, FitResult> FitSharedE(
    const std::map<std::string, std::vector<Observation>>& by_family, const FitOptions&) {
  std::map<std::string, FitResult> out;
  for (const auto& [family, runs] : by_family) {
    FitResult r;
    r.form = FitForm::kPowerLawSharedE;
    r.family = family;
    r.status = FitStatus::kInsufficientData;
    r.reason = "not written yet";
    out[family] = r;
  }
  return out;
}

}  // namespace ladder::fit
