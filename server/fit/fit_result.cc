#include "server/fit/fit_result.h"

namespace ladder::fit {

const char* FitFormName(FitForm form) {
  // The table's names are string literals, so data() is NUL-terminated.
  return enums::Name(form).data();
}

bool ParseFitForm(const std::string& name, FitForm* form) {
  auto f = enums::Parse<FitForm>(name);
  if (f) *form = *f;
  return f.has_value();
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
