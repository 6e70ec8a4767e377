#include "server/fit/parameter_bounds.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <limits>
#include <tuple>

#include "server/fit/law_vector.h"

namespace ladder::fit {

namespace {

// power_law_compute's Solve (power_law_fit.cc) and the shared-E fit bound
// E >= 0 and 0 <= alpha <= 10 in the solver; the estimate lands on the bound
// exactly, so the tolerance only absorbs rounding.
constexpr double kSolverTolerance = 1e-6;
// Approach 3 (chinchilla, data_constrained) fits log E, so E > 0 always and
// E = 0 is reached only in the limit: L-BFGS walks log E down a nearly flat
// objective and stops far below any loss the runs resolve. An E under 1e-4
// nats is that limit (the runs' losses are O(1) nats; 1e-4 is below their
// noise), reported as on the bound at 0. The exponents and R*_D are free
// (no clamp; LawProblem refuses alpha or beta <= 0), and the start grid
// (Approach3StartGrid) only seeds the search, so it is no bound.
constexpr double kLogParameterTolerance = 1e-4;

std::string Format(double v) {
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, "%.3g", v);
  return buffer;
}

bool Near(double value, double bound, double tolerance) {
  return std::isfinite(value) &&
         std::abs(value - bound) <= tolerance * std::max(1.0, std::abs(bound));
}

// Why a parameter on its bound matters, by what it is in the law.
std::string Consequence(const std::string& name, const std::string& side) {
  if (name == "E" && side == "lower") {
    return "the data do not place the irreducible loss; extrapolations from this fit never flatten";
  }
  if (name == "alpha" || name == "beta") {
    return "the data do not place this exponent; the fit's slope is the bound's, not the runs'";
  }
  return "the data do not place it; its value is the bound's";
}

}  // namespace

std::vector<ParameterBound> LawBounds(FitForm form) {
  std::vector<ParameterBound> bounds(LawSize(form));
  switch (form) {
    case FitForm::kPowerLawCompute:
    case FitForm::kPowerLawSharedE:                       // same law vector, same solver bounds
      bounds[0] = {0.0, std::nullopt, kSolverTolerance};  // E
      bounds[2] = {0.0, 10.0, kSolverTolerance};          // alpha
      break;
    case FitForm::kChinchilla:
    case FitForm::kDataConstrained:
      bounds[0] = {0.0, std::nullopt, kLogParameterTolerance};  // E = exp(log E)
      break;
    case FitForm::kIsoflop:  // regressions of per-budget minima: nothing bounded
      break;
  }
  return bounds;
}

ParameterBound BoundOfParameter(FitForm form, const std::string& name) {
  const std::vector<std::string> names = LawNames(form);
  const std::vector<ParameterBound> bounds = LawBounds(form);
  for (size_t k = 0; k < names.size(); ++k) {
    if (names[k] == name) return bounds[k];
  }
  return {};
}

void MarkBounds(FitForm form, std::vector<FitParameter>* parameters) {
  for (FitParameter& p : *parameters) {
    const ParameterBound b = BoundOfParameter(form, p.name);
    p.at_bound.clear();
    p.bound = std::numeric_limits<double>::quiet_NaN();
    if (b.lower && Near(p.value.estimate, *b.lower, b.tolerance)) {
      p.at_bound = "lower";
      p.bound = *b.lower;
    } else if (b.upper && Near(p.value.estimate, *b.upper, b.tolerance)) {
      p.at_bound = "upper";
      p.bound = *b.upper;
    }
  }
}

std::vector<std::string> BoundWarnings(FitForm form, const std::vector<FitParameter>& parameters) {
  std::vector<std::string> out;
  for (const FitParameter& p : parameters) {
    if (!p.at_bound.empty()) {
      out.push_back(p.name + " = " + Format(p.bound) + " is on its " + p.at_bound +
                    " bound: " + Consequence(p.name, p.at_bound));
      continue;
    }
    const ParameterBound b = BoundOfParameter(form, p.name);
    for (const auto& [side, bound, end] :
         {std::tuple<const char*, std::optional<double>, double>{"lower", b.lower, p.value.lower},
          {"upper", b.upper, p.value.upper}}) {
      if (!bound || !Near(end, *bound, b.tolerance)) continue;
      out.push_back(p.name + " = " + Format(p.value.estimate) + " has a 95% interval [" +
                    Format(p.value.lower) + ", " + Format(p.value.upper) + "] that reaches its " +
                    side + " bound " + Format(*bound) +
                    ": some bootstrap resamples do not place it, so extrapolations are less "
                    "certain than the estimate suggests");
    }
  }
  return out;
}

int ParametersAtBound(const std::vector<FitParameter>& parameters) {
  int n = 0;
  for (const FitParameter& p : parameters) n += !p.at_bound.empty();
  return n;
}

}  // namespace ladder::fit
