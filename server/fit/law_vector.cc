#include "server/fit/law_vector.h"

#include <cmath>

#include "server/fit/bootstrap.h"
#include "server/fit/parameter_bounds.h"

namespace ladder::fit {

std::vector<std::string> LawNames(FitForm form) {
  switch (form) {
    case FitForm::kPowerLawCompute:
    case FitForm::kPowerLawSharedE:
      return {"E", "A", "alpha"};
    case FitForm::kChinchilla:
      return {"E", "A", "alpha", "B", "beta"};
    case FitForm::kIsoflop:
      return {"a", "log_n_coefficient", "b", "log_d_coefficient"};
    case FitForm::kDataConstrained:
      return {"E", "A", "alpha", "B", "beta", "R_star_D"};
  }
  return {};
}

int LawSize(FitForm form) { return static_cast<int>(LawNames(form).size()); }

std::vector<double> ToVector(const PowerLawInCompute& law) { return {law.E, law.A, law.alpha}; }

std::vector<double> ToVector(const ChinchillaLaw& law) {
  return {law.E, law.A, law.alpha, law.B, law.beta};
}

std::vector<double> ToVector(const AllocationLaw& law) {
  return {law.a, law.log_n_coefficient, law.b, law.log_d_coefficient};
}

std::vector<double> ToVector(const DataConstrainedLaw& law) {
  return {law.base.E, law.base.A, law.base.alpha, law.base.B, law.base.beta, law.r_star_d};
}

PowerLawInCompute PowerLawFromVector(const std::vector<double>& v) {
  PowerLawInCompute law;
  law.E = v[0];
  law.A = v[1];
  law.alpha = v[2];
  return law;
}

ChinchillaLaw ChinchillaFromVector(const std::vector<double>& v) {
  ChinchillaLaw law;
  law.E = v[0];
  law.A = v[1];
  law.alpha = v[2];
  law.B = v[3];
  law.beta = v[4];
  return law;
}

AllocationLaw AllocationFromVector(const std::vector<double>& v) {
  AllocationLaw law;
  law.a = v[0];
  law.log_n_coefficient = v[1];
  law.b = v[2];
  law.log_d_coefficient = v[3];
  return law;
}

DataConstrainedLaw DataConstrainedFromVector(const std::vector<double>& v) {
  DataConstrainedLaw law;
  law.base = ChinchillaFromVector(v);
  law.r_star_d = v[5];
  return law;
}

std::vector<std::pair<std::string, double>> ReportedValues(FitForm form,
                                                           const std::vector<double>& v) {
  switch (form) {
    case FitForm::kPowerLawCompute:
    case FitForm::kPowerLawSharedE:
      return {{"E", v[0]}, {"A", v[1]}, {"alpha", v[2]}};
    case FitForm::kChinchilla: {
      const ChinchillaLaw law = ChinchillaFromVector(v);
      return {{"E", law.E},
              {"A", law.A},
              {"alpha", law.alpha},
              {"B", law.B},
              {"beta", law.beta},
              {"a", OptimalParamsExponent(law)},
              {"b", OptimalTokensExponent(law)},
              {"G", OptimalAllocationCoefficient(law)}};
    }
    case FitForm::kIsoflop:
      return {{"a", v[0]},
              {"b", v[2]},
              {"N_coefficient", std::exp(v[1])},
              {"D_coefficient", std::exp(v[3])}};
    case FitForm::kDataConstrained:
      return {{"E", v[0]}, {"A", v[1]},    {"alpha", v[2]},
              {"B", v[3]}, {"beta", v[4]}, {"R_star_D", v[5]}};
  }
  return {};
}

std::vector<FitParameter> ReportedParameters(FitForm form, const std::vector<double>& law,
                                             const std::vector<std::vector<double>>& samples) {
  const std::vector<std::pair<std::string, double>> point = ReportedValues(form, law);
  std::vector<std::vector<double>> per_parameter(point.size());
  for (const std::vector<double>& s : samples) {
    const std::vector<std::pair<std::string, double>> values = ReportedValues(form, s);
    for (size_t k = 0; k < values.size(); ++k) per_parameter[k].push_back(values[k].second);
  }
  std::vector<FitParameter> out;
  for (size_t k = 0; k < point.size(); ++k) {
    FitParameter p;
    p.name = point[k].first;
    p.value = PercentileInterval(point[k].second, std::move(per_parameter[k]));
    out.push_back(p);
  }
  MarkBounds(form, &out);
  return out;
}

}  // namespace ladder::fit
