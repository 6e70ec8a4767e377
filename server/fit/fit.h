// The scaling-law engine's entry point for the coordinator's refit loop.
//
//   std::map<std::string, std::vector<Observation>> by_family = GroupByFamily(runs);
//   FitResult fit = FitScalingLaw(FitForm::kChinchilla, by_family["transformer"], options);
//   store: fit_json.h (FitParametersJson / FitDetailsJson, or FitResultToJson)
//   answer: prediction.h, family_comparison.h
//
// Which forms suit which sweep: power_law_compute needs runs spread over
// compute (any sweep); chinchilla and data_constrained need runs off a single
// tokens-per-parameter line (isoflop, grid, data_constrained sweeps);
// isoflop needs Observation::budget (isoflop sweeps). A form that does not
// suit the data returns insufficient_data with the reason; it never throws.
// Thread-safe; each call uses up to FitOptions::threads threads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "server/fit/chinchilla_fit.h"
#include "server/fit/data_constrained_fit.h"
#include "server/fit/fit_options.h"
#include "server/fit/fit_result.h"
#include "server/fit/isoflop_fit.h"
#include "server/fit/observation.h"
#include "server/fit/power_law_fit.h"

namespace ladder::fit {

// Dispatches to FitPowerLawCompute, FitChinchilla, FitIsoflop or
// FitDataConstrained. `runs` must be one family's.
FitResult FitScalingLaw(FitForm form, const std::vector<Observation>& runs,
                        const FitOptions& options);

// The forms that answer "what loss at compute C?", in the order a question
// that names no form tries them (the first ok fit answers): the shared-E
// law where the sweep fits one, then each family's own power law, then the
// Chinchilla law's compute-optimal frontier. The refit loop's target gauges,
// predictions, CEG curves and backtests all use this order.
const std::vector<FitForm>& ComputeFormsByPreference();

// Runs split by Observation::family, input order kept within each.
std::map<std::string, std::vector<Observation>> GroupByFamily(const std::vector<Observation>& runs);

}  // namespace ladder::fit
