#include "server/fit/fit_result.h"

namespace ladder::fit {

const char* FitFormName(FitForm form) {
  switch (form) {
    case FitForm::kPowerLawCompute:
      return "power_law_compute";
    case FitForm::kChinchilla:
      return "chinchilla";
    case FitForm::kIsoflop:
      return "isoflop";
    case FitForm::kDataConstrained:
      return "data_constrained";
  }
  return "unknown";
}

bool ParseFitForm(const std::string& name, FitForm* form) {
  for (FitForm f : {FitForm::kPowerLawCompute, FitForm::kChinchilla, FitForm::kIsoflop,
                    FitForm::kDataConstrained}) {
    if (name == FitFormName(f)) {
      *form = f;
      return true;
    }
  }
  return false;
}

const char* FitStatusName(FitStatus status) {
  switch (status) {
    case FitStatus::kOk:
      return "ok";
    case FitStatus::kInsufficientData:
      return "insufficient_data";
    case FitStatus::kFailed:
      return "failed";
  }
  return "failed";
}

bool ParseFitStatus(const std::string& name, FitStatus* status) {
  for (FitStatus s : {FitStatus::kOk, FitStatus::kInsufficientData, FitStatus::kFailed}) {
    if (name == FitStatusName(s)) {
      *status = s;
      return true;
    }
  }
  return false;
}

const FitParameter* FitResult::FindParameter(const std::string& name) const {
  for (const FitParameter& p : parameters) {
    if (p.name == name) return &p;
  }
  return nullptr;
}

}  // namespace ladder::fit
