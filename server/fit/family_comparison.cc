#include "server/fit/family_comparison.h"

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>

#include "absl/status/status.h"
#include "server/fit/bootstrap.h"
#include "server/fit/law_vector.h"
#include "server/fit/scaling_laws.h"

namespace ladder::fit {

namespace {

absl::StatusOr<PowerLawInCompute> FrontierOf(const FitResult& fit, const std::vector<double>& v) {
  switch (fit.form) {
    case FitForm::kPowerLawCompute:
    case FitForm::kPowerLawSharedE:
      return PowerLawFromVector(v);
    case FitForm::kChinchilla:
      return ComputeOptimalFrontier(ChinchillaFromVector(v));
    default:
      return absl::FailedPreconditionError(std::string(FitFormName(fit.form)) +
                                           " fits have no compute frontier; compare "
                                           "power_law_compute or chinchilla fits");
  }
}

absl::Status CheckFit(const FitResult& fit, const char* which) {
  if (!fit.ok()) {
    return absl::FailedPreconditionError(std::string(which) + " fit (" + fit.family + ", " +
                                         FitFormName(fit.form) + ") is " +
                                         FitStatusName(fit.status) + ": " + fit.reason);
  }
  if (fit.law.size() != static_cast<size_t>(LawSize(fit.form))) {
    return absl::FailedPreconditionError(std::string(which) + " fit has no law");
  }
  return FrontierOf(fit, fit.law).status();
}

// `count` computes evenly spaced in log from lo to hi (lo alone when count is 1).
std::vector<double> LogGrid(double lo, double hi, int count) {
  std::vector<double> out;
  for (int i = 0; i < count; ++i) {
    const double t = count == 1 ? 0.0 : static_cast<double>(i) / (count - 1);
    out.push_back(i == 0           ? lo
                  : i == count - 1 ? hi
                                   : std::exp(std::log(lo) + t * (std::log(hi) - std::log(lo))));
  }
  return out;
}

double Ceg(const PowerLawInCompute& s, const PowerLawInCompute& t, double c) {
  return s.ComputeForLoss(t.Loss(c)) / c;
}

}  // namespace

absl::StatusOr<std::vector<CegPoint>> CompareFamilies(const FitResult& base,
                                                      const FitResult& target, double min_compute,
                                                      double max_compute, int points) {
  if (absl::Status s = CheckFit(base, "base"); !s.ok()) return s;
  if (absl::Status s = CheckFit(target, "target"); !s.ok()) return s;
  if (base.flops_count != target.flops_count) {
    return absl::FailedPreconditionError(std::string("fits count FLOPs differently (base ") +
                                         FlopsCountName(base.flops_count) + ", target " +
                                         FlopsCountName(target.flops_count) + ")");
  }
  if (!std::isfinite(min_compute) || !std::isfinite(max_compute) || min_compute < 0 ||
      max_compute < 0) {
    return absl::InvalidArgumentError("min_compute and max_compute must be >= 0 and finite");
  }
  if (points < 0) return absl::InvalidArgumentError("points must be >= 0");
  if (min_compute == 0) min_compute = std::min(base.min_trained_flops, target.min_trained_flops);
  if (max_compute == 0) max_compute = std::max(base.max_trained_flops, target.max_trained_flops);
  if (!(min_compute > 0) || !(max_compute >= min_compute)) {
    return absl::InvalidArgumentError("compute range is empty or inverted (min_compute " +
                                      std::to_string(min_compute) + ", max_compute " +
                                      std::to_string(max_compute) + ")");
  }
  if (points == 0) points = 9;

  const PowerLawInCompute s_law = *FrontierOf(base, base.law);
  const PowerLawInCompute t_law = *FrontierOf(target, target.law);
  std::vector<std::pair<PowerLawInCompute, PowerLawInCompute>> pairs;
  const size_t n = std::min(base.law_samples.size(), target.law_samples.size());
  for (size_t k = 0; k < n; ++k) {
    const auto s = FrontierOf(base, base.law_samples[k]);
    const auto t = FrontierOf(target, target.law_samples[k]);
    if (s.ok() && t.ok()) pairs.emplace_back(*s, *t);
  }

  std::vector<CegPoint> out;
  for (double c : LogGrid(min_compute, max_compute, min_compute == max_compute ? 1 : points)) {
    CegPoint p;
    p.compute = c;
    std::vector<double> samples;
    samples.reserve(pairs.size());
    for (const auto& [s, t] : pairs) samples.push_back(Ceg(s, t, c));
    p.gain = PercentileInterval(Ceg(s_law, t_law, c), std::move(samples));
    p.extrapolation_factor =
        std::max({1.0, c / target.max_trained_flops, c * p.gain.estimate / base.max_trained_flops});
    out.push_back(p);
  }
  return out;
}

}  // namespace ladder::fit
