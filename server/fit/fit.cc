#include "server/fit/fit.h"

namespace ladder::fit {

FitResult FitScalingLaw(FitForm form, const std::vector<Observation>& runs,
                        const FitOptions& options) {
  switch (form) {
    case FitForm::kPowerLawCompute:
      return FitPowerLawCompute(runs, options);
    case FitForm::kChinchilla:
      return FitChinchilla(runs, options);
    case FitForm::kIsoflop:
      return FitIsoflop(runs, options);
    case FitForm::kDataConstrained:
      return FitDataConstrained(runs, options);
    case FitForm::kPowerLawSharedE: {
      // Fitted jointly over a sweep's families (shared_e_fit.h), never from one family's runs.
      FitResult result;
      result.form = form;
      result.status = FitStatus::kInsufficientData;
      result.reason = "power_law_shared_e is fitted over several families at once: FitSharedE";
      return result;
    }
  }
  FitResult result;
  result.form = form;
  result.status = FitStatus::kFailed;
  result.reason = "unknown fit form";
  return result;
}

const std::vector<FitForm>& ComputeFormsByPreference() {
  static const std::vector<FitForm> forms = {FitForm::kPowerLawSharedE, FitForm::kPowerLawCompute,
                                             FitForm::kChinchilla};
  return forms;
}

std::map<std::string, std::vector<Observation>> GroupByFamily(
    const std::vector<Observation>& runs) {
  std::map<std::string, std::vector<Observation>> out;
  for (const Observation& run : runs) out[run.family].push_back(run);
  return out;
}

}  // namespace ladder::fit
