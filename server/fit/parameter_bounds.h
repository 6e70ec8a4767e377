// Bounds of a fit's parameters: where each form's optimiser stops a
// parameter, and the flags and warnings for an estimate that sits there.
// An estimate on a bound is the bound's value, not the data's: E = 0 says
// the runs do not place the irreducible loss, and a law with E = 0 never
// flattens, so extrapolating it is optimistic by construction.
//
// The table is keyed by the law vector's layout (law_vector.h), so forms that
// share a layout share their bounds: power_law_shared_e is flagged exactly
// like power_law_compute. ReportedParameters marks every fit's parameters;
// no fit file does it itself.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "server/fit/fit_result.h"

namespace ladder::fit {

struct ParameterBound {
  std::optional<double> lower;
  std::optional<double> upper;
  // How near the estimate must come to count as on the bound: relative to
  // the bound's magnitude, absolute for a bound at 0.
  double tolerance = 1e-6;
};

// The bound of each law-vector entry of `form`, in LawNames(form) order; an
// entry with neither side set is free.
std::vector<ParameterBound> LawBounds(FitForm form);

// The bound of the reported parameter `name` of `form` (parameters derived
// from the law, such as chinchilla's a, b and G, have none).
ParameterBound BoundOfParameter(FitForm form, const std::string& name);

// Sets each parameter's at_bound ("lower", "upper" or "") and bound from its
// point estimate.
void MarkBounds(FitForm form, std::vector<FitParameter>* parameters);

// One readable line per parameter on a bound ("E = 0 is on its lower bound:
// ..."), and per parameter off it whose 95% interval reaches one.
std::vector<std::string> BoundWarnings(FitForm form, const std::vector<FitParameter>& parameters);

// How many of `parameters` sit on a bound.
int ParametersAtBound(const std::vector<FitParameter>& parameters);

}  // namespace ladder::fit
