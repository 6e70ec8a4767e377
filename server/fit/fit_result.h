// FitResult: one scaling law fitted to one family's runs, as the coordinator
// stores it (one row of the `fits` table; see fit_json.h) and as predictions
// read it (prediction.h, family_comparison.h).
//
// Every fit returns a FitResult, never throws: status says whether it can be
// used, reason says why not. The text values of FitForm and FitStatus are
// stored in the database and sent on the wire: do not rename them.
#pragma once

#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/enums/enums.h"
#include "server/fit/observation.h"

namespace ladder::fit {

// The forms and their one name table are in common/enums/enums.h.
using enums::FitForm;
const char* FitFormName(FitForm form);
bool ParseFitForm(const std::string& name, FitForm* form);

enum class FitStatus {
  kOk = 0,                // "ok"
  kInsufficientData = 1,  // "insufficient_data": too few or degenerate runs for this form
  kFailed = 2,            // "failed": the optimiser found nothing usable
};
const char* FitStatusName(FitStatus status);
bool ParseFitStatus(const std::string& name, FitStatus* status);

// A value with its bootstrap 95% percentile interval. lower/upper are NaN
// when the fit has no bootstrap samples.
struct Interval {
  double estimate = std::numeric_limits<double>::quiet_NaN();
  double lower = std::numeric_limits<double>::quiet_NaN();  // 2.5% quantile
  double upper = std::numeric_limits<double>::quiet_NaN();  // 97.5% quantile
};

struct FitParameter {
  std::string name;
  Interval value;
  // "lower" or "upper" when the estimate sits on that bound of the fit (E = 0,
  // an exponent at its cap): the value is the bound's, not the data's; ""
  // when it does not. Set by MarkBounds (parameter_bounds.h).
  std::string at_bound;
  double bound = std::numeric_limits<double>::quiet_NaN();  // the bound, when at_bound is set
};

struct FitResult {
  FitForm form = FitForm::kChinchilla;
  std::string family;
  FitStatus status = FitStatus::kFailed;
  std::string reason;  // empty when ok

  // Reported parameters with intervals, including derived ones (e.g. the
  // chinchilla fit's N_opt exponent "a"); see law_vector.h for each form.
  std::vector<FitParameter> parameters;

  // The law itself as a flat vector (layout per form in law_vector.h): the
  // point estimate and one vector per converged bootstrap resample.
  // Predictions evaluate these; they are stored in `details`.
  std::vector<double> law;
  std::vector<std::vector<double>> law_samples;

  int runs_used = 0;  // runs that passed validation and went into the fit
  double rmse_log_loss = std::numeric_limits<double>::quiet_NaN();
  // (predicted - actual) / actual for the largest-compute run, predicted by a
  // fit on the other runs; NaN when not computable. For isoflop fits the
  // quantity is N_opt at the largest budget (details.holdout says so).
  double holdout_relative_error = std::numeric_limits<double>::quiet_NaN();
  int bootstrap_resamples = 0;  // converged resamples behind the intervals
  double fit_seconds = 0;
  FlopsCount flops_count = FlopsCount::kExact;  // the compute axis of this fit
  double max_trained_flops = std::numeric_limits<double>::quiet_NaN();          // largest C used
  double min_trained_flops = std::numeric_limits<double>::quiet_NaN();          // smallest C used
  double max_trained_params_tokens = std::numeric_limits<double>::quiet_NaN();  // largest N*D

  // Form-specific diagnostics (starts converged, frontier points, per-budget
  // minima, dropped runs, ...). Free-form; predictions never read it.
  nlohmann::json details = nlohmann::json::object();

  bool ok() const { return status == FitStatus::kOk; }
  // The reported parameter called `name`, or nullptr.
  const FitParameter* FindParameter(const std::string& name) const;
};

}  // namespace ladder::fit
