// The law of each fit form as a flat vector of doubles: the representation
// FitResult keeps for its point estimate and each bootstrap sample, and that
// fit_json.h stores. Layouts (do not reorder: stored in the database):
//
//   power_law_compute  {E, A, alpha}                    PowerLawInCompute
//   chinchilla         {E, A, alpha, B, beta}           ChinchillaLaw
//   isoflop            {a, log_n_coefficient, b, log_d_coefficient}  AllocationLaw
//   data_constrained   {E, A, alpha, B, beta, R_star_D} DataConstrainedLaw
//
// Reported parameters (FitResult::parameters), derived ones included:
//   power_law_compute  E, A, alpha
//   chinchilla         E, A, alpha, B, beta, a, b, G   (a, b, G of eq. 4)
//   isoflop            a, b, N_coefficient, D_coefficient
//   data_constrained   E, A, alpha, B, beta, R_star_D
#pragma once

#include <string>
#include <utility>
#include <vector>

#include "server/fit/fit_result.h"
#include "server/fit/scaling_laws.h"

namespace ladder::fit {

std::vector<std::string> LawNames(FitForm form);
int LawSize(FitForm form);

// Conversions. The FromVector functions expect a vector of LawSize(form).
std::vector<double> ToVector(const PowerLawInCompute& law);
std::vector<double> ToVector(const ChinchillaLaw& law);
std::vector<double> ToVector(const AllocationLaw& law);
std::vector<double> ToVector(const DataConstrainedLaw& law);
PowerLawInCompute PowerLawFromVector(const std::vector<double>& v);
ChinchillaLaw ChinchillaFromVector(const std::vector<double>& v);
AllocationLaw AllocationFromVector(const std::vector<double>& v);
DataConstrainedLaw DataConstrainedFromVector(const std::vector<double>& v);

// The reported parameters of `law` (names and values, in report order).
std::vector<std::pair<std::string, double>> ReportedValues(FitForm form,
                                                           const std::vector<double>& law);

// Reported parameters with bootstrap 95% percentile intervals over `samples`,
// each marked when its estimate sits on a bound (parameter_bounds.h).
std::vector<FitParameter> ReportedParameters(FitForm form, const std::vector<double>& law,
                                             const std::vector<std::vector<double>>& samples);

}  // namespace ladder::fit
