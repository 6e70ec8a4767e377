// power_law_shared_e: L_f(C) = E + A_f C^-alpha_f fitted jointly over a
// sweep's families on their compute frontiers, with one irreducible loss E
// and each family its own A_f and alpha_f. E is the entropy floor of the data
// under the tokenizer, not of the architecture (SCIENCE.md, "Shared
// irreducible loss"), so families trained on the same data share it; using
// every family's runs to identify E keeps it off its bound where one
// family's runs alone cannot place it.
//
// The result is one FitResult per family, form kPowerLawSharedE, with the
// law vector of power_law_compute ({E, A, alpha}; law_vector.h), so
// predictions and CEG curves read it as they read power_law_compute. The
// bootstrap resamples every family's runs together: sample k of each family
// comes from the same joint refit (same E).
// Thread-safe; uses up to FitOptions::threads threads.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "server/fit/fit_options.h"
#include "server/fit/fit_result.h"
#include "server/fit/observation.h"

namespace ladder::fit {

// `by_family`: each family's runs (GroupByFamily). Every family gets a
// result; with fewer than two families having enough frontier points, all
// are insufficient_data with the reason. details.shared_with lists the
// families fitted together.
std::map<std::string, FitResult> FitSharedE(
    const std::map<std::string, std::vector<Observation>>& by_family, const FitOptions& options);

}  // namespace ladder::fit
