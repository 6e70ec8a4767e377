#include "server/fit/scaling_laws.h"

#include <cmath>
#include <limits>

namespace ladder::fit {

namespace {
constexpr double kNaN = std::numeric_limits<double>::quiet_NaN();
}  // namespace

double PowerLawInCompute::Loss(double compute) const { return E + A * std::pow(compute, -alpha); }

double PowerLawInCompute::ComputeForLoss(double loss) const {
  if (!std::isfinite(loss) || !(A > 0) || !(alpha > 0)) return kNaN;
  if (loss <= E) return std::numeric_limits<double>::infinity();
  // Solve E + A C^-alpha = loss in log space to keep large C finite.
  return std::exp((std::log(A) - std::log(loss - E)) / alpha);
}

double ChinchillaLaw::Loss(double params, double tokens) const {
  return E + A * std::pow(params, -alpha) + B * std::pow(tokens, -beta);
}

double OptimalParamsExponent(const ChinchillaLaw& law) { return law.beta / (law.alpha + law.beta); }

double OptimalTokensExponent(const ChinchillaLaw& law) {
  return law.alpha / (law.alpha + law.beta);
}

double OptimalAllocationCoefficient(const ChinchillaLaw& law) {
  if (!(law.alpha > 0) || !(law.beta > 0) || !(law.A > 0) || !(law.B > 0)) return kNaN;
  return std::pow(law.alpha * law.A / (law.beta * law.B), 1.0 / (law.alpha + law.beta));
}

Allocation ComputeOptimalAllocation(const ChinchillaLaw& law, double compute_6nd) {
  const double g = OptimalAllocationCoefficient(law);
  Allocation out;
  if (!std::isfinite(g) || !(compute_6nd > 0)) {
    out.params = out.tokens = out.loss = kNaN;
    return out;
  }
  const double c6 = compute_6nd / 6.0;
  out.params = g * std::pow(c6, OptimalParamsExponent(law));
  out.tokens = std::pow(c6, OptimalTokensExponent(law)) / g;
  out.loss = law.Loss(out.params, out.tokens);
  return out;
}

PowerLawInCompute ComputeOptimalFrontier(const ChinchillaLaw& law) {
  PowerLawInCompute frontier;
  const double g = OptimalAllocationCoefficient(law);
  frontier.E = law.E;
  if (!std::isfinite(g)) {
    frontier.A = frontier.alpha = kNaN;
    return frontier;
  }
  const double gamma = law.alpha * law.beta / (law.alpha + law.beta);
  frontier.alpha = gamma;
  frontier.A =
      (law.A * std::pow(g, -law.alpha) + law.B * std::pow(g, law.beta)) * std::pow(6.0, gamma);
  return frontier;
}

double AllocationLaw::ParamsAt(double compute) const {
  return std::exp(log_n_coefficient + a * std::log(compute));
}

double AllocationLaw::TokensAt(double compute) const {
  return std::exp(log_d_coefficient + b * std::log(compute));
}

double EffectiveTokens(double tokens, double unique_tokens, double r_star_d) {
  if (!(unique_tokens > 0) || unique_tokens >= tokens) return tokens;
  const double repeats = tokens / unique_tokens - 1.0;  // R_D, epochs beyond the first
  return unique_tokens + unique_tokens * r_star_d * (1.0 - std::exp(-repeats / r_star_d));
}

double DataConstrainedLaw::EffectiveTokens(double tokens, double unique_tokens) const {
  return fit::EffectiveTokens(tokens, unique_tokens, r_star_d);
}

double DataConstrainedLaw::Loss(double params, double tokens, double unique_tokens) const {
  return base.Loss(params, EffectiveTokens(tokens, unique_tokens));
}

}  // namespace ladder::fit
