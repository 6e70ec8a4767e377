#include "server/fit/prediction.h"

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#include "absl/status/status.h"
#include "server/fit/bootstrap.h"
#include "server/fit/law_vector.h"
#include "server/fit/scaling_laws.h"

namespace ladder::fit {

namespace {

absl::Status CheckPositive(const char* field, double v) {
  if (std::isfinite(v) && v > 0) return absl::OkStatus();
  return absl::InvalidArgumentError(std::string(field) + " must be positive and finite, got " +
                                    std::to_string(v));
}

absl::Status CheckUsable(const FitResult& fit) {
  if (!fit.ok()) {
    return absl::FailedPreconditionError(std::string(FitFormName(fit.form)) + " fit is " +
                                         FitStatusName(fit.status) + ": " + fit.reason);
  }
  const size_t size = static_cast<size_t>(LawSize(fit.form));
  if (fit.law.size() != size) {
    return absl::FailedPreconditionError(std::string(FitFormName(fit.form)) +
                                         " fit has no law of the right size");
  }
  return absl::OkStatus();
}

absl::Status WrongForm(const FitResult& fit, const char* question, const char* forms) {
  return absl::FailedPreconditionError(std::string(FitFormName(fit.form)) +
                                       " fits do not predict " + question + "; use " + forms);
}

// Estimate from fit.law, interval over fit.law_samples (wrong-sized samples skipped).
Interval Evaluate(const FitResult& fit,
                  const std::function<double(const std::vector<double>&)>& f) {
  std::vector<double> values;
  values.reserve(fit.law_samples.size());
  for (const std::vector<double>& s : fit.law_samples) {
    if (s.size() == fit.law.size()) values.push_back(f(s));
  }
  return PercentileInterval(f(fit.law), std::move(values));
}

// The same for an Allocation-valued f, evaluated once per sample.
struct AllocationIntervals {
  Interval params, tokens, loss;
};
AllocationIntervals EvaluateAllocation(
    const FitResult& fit, const std::function<Allocation(const std::vector<double>&)>& f) {
  std::vector<double> params, tokens, loss;
  for (const std::vector<double>& s : fit.law_samples) {
    if (s.size() != fit.law.size()) continue;
    const Allocation a = f(s);
    params.push_back(a.params);
    tokens.push_back(a.tokens);
    loss.push_back(a.loss);
  }
  const Allocation estimate = f(fit.law);
  return {PercentileInterval(estimate.params, std::move(params)),
          PercentileInterval(estimate.tokens, std::move(tokens)),
          PercentileInterval(estimate.loss, std::move(loss))};
}

// The p-quantile of the mixture over the centres of log-normal run losses
// exp(N(log c_k, sigma^2)): the x with mean_k Phi((log x - log c_k) / sigma)
// = p, by bisection in log x (deterministic, no random draws). Exact, where a
// fixed set of noise quantiles is not: 40 midpoint quantiles put the 2.5%
// point at 1.79 sigma, not 1.96, and cover 93% instead of 95% when the law's
// spread is small against the run noise.
double MixtureQuantile(const std::vector<double>& log_centres, double sigma, double p) {
  const auto [min_it, max_it] = std::minmax_element(log_centres.begin(), log_centres.end());
  // Phi(-10) ~ 8e-24: the quantiles of p in (1e-20, 1 - 1e-20) lie inside.
  double lo = *min_it - 10 * sigma, hi = *max_it + 10 * sigma;
  for (int i = 0; i < 64 && lo < hi; ++i) {  // 2^-64 of the bracket: below rounding
    const double mid = 0.5 * (lo + hi);
    double cdf = 0;
    for (double lc : log_centres) cdf += 0.5 * std::erfc((lc - mid) / (sigma * M_SQRT2));
    if (cdf / static_cast<double>(log_centres.size()) < p) {
      lo = mid;
    } else {
      hi = mid;
    }
  }
  return std::exp(0.5 * (lo + hi));
}

// The run interval: the 2.5% and 97.5% points of every bootstrap law's value
// (the point law's when there are none) scattered by the run noise.
Interval RunInterval(const FitResult& fit, const Interval& law,
                     const std::function<double(const std::vector<double>&)>& f) {
  const double sigma = RunNoise(fit);
  if (!std::isfinite(sigma) || sigma <= 0) return law;
  std::vector<double> log_centres;
  for (const std::vector<double>& s : fit.law_samples) {
    if (s.size() != fit.law.size()) continue;
    // A law with no finite positive loss there has no run noise to scatter.
    if (const double c = f(s); std::isfinite(c) && c > 0) log_centres.push_back(std::log(c));
  }
  if (log_centres.empty()) {
    if (!(std::isfinite(law.estimate) && law.estimate > 0)) return law;
    log_centres.push_back(std::log(law.estimate));
  }
  Interval out;
  out.estimate = law.estimate;
  out.lower = MixtureQuantile(log_centres, sigma, 0.025);
  out.upper = MixtureQuantile(log_centres, sigma, 0.975);
  return out;
}

// Law interval and run interval of f.
void EvaluateBoth(const FitResult& fit, const std::function<double(const std::vector<double>&)>& f,
                  LossPrediction* out) {
  out->loss = Evaluate(fit, f);
  out->run_loss = RunInterval(fit, out->loss, f);
}

}  // namespace

double RunNoise(const FitResult& fit) {
  if (!std::isfinite(fit.rmse_log_loss)) return std::numeric_limits<double>::quiet_NaN();
  const bool power_law =
      fit.form == FitForm::kPowerLawCompute || fit.form == FitForm::kPowerLawSharedE;
  // Power laws are fitted on the frontier's points, the others on runs.
  int n = fit.runs_used;
  if (power_law && fit.details.is_object() && fit.details.contains("frontier_points") &&
      fit.details["frontier_points"].is_number())
    n = fit.details["frontier_points"].get<int>();
  const int p = LawSize(fit.form);
  if (n <= 0) return std::numeric_limits<double>::quiet_NaN();
  return fit.rmse_log_loss * std::sqrt(static_cast<double>(n) / std::max(1, n - p));
}

absl::StatusOr<LossPrediction> PredictLoss(const FitResult& fit, double params, double tokens,
                                           double unique_tokens) {
  if (absl::Status s = CheckUsable(fit); !s.ok()) return s;
  if (absl::Status s = CheckPositive("params", params); !s.ok()) return s;
  if (absl::Status s = CheckPositive("tokens", tokens); !s.ok()) return s;
  if (!std::isfinite(unique_tokens) || unique_tokens < 0) {
    return absl::InvalidArgumentError("unique_tokens must be >= 0 and finite");
  }
  LossPrediction out;
  if (fit.form == FitForm::kChinchilla) {
    EvaluateBoth(
        fit,
        [&](const std::vector<double>& v) { return ChinchillaFromVector(v).Loss(params, tokens); },
        &out);
  } else if (fit.form == FitForm::kDataConstrained) {
    EvaluateBoth(
        fit,
        [&](const std::vector<double>& v) {
          return DataConstrainedFromVector(v).Loss(params, tokens, unique_tokens);
        },
        &out);
  } else {
    return WrongForm(fit, "loss at (N, D)", "chinchilla or data_constrained");
  }
  out.extrapolation_factor = params * tokens / fit.max_trained_params_tokens;
  return out;
}

absl::StatusOr<LossPrediction> PredictLossAtCompute(const FitResult& fit, double compute) {
  if (absl::Status s = CheckUsable(fit); !s.ok()) return s;
  if (absl::Status s = CheckPositive("compute", compute); !s.ok()) return s;
  LossPrediction out;
  if (fit.form == FitForm::kPowerLawCompute || fit.form == FitForm::kPowerLawSharedE) {
    EvaluateBoth(
        fit, [&](const std::vector<double>& v) { return PowerLawFromVector(v).Loss(compute); },
        &out);
  } else if (fit.form == FitForm::kChinchilla) {
    EvaluateBoth(
        fit,
        [&](const std::vector<double>& v) {
          return ComputeOptimalFrontier(ChinchillaFromVector(v)).Loss(compute);
        },
        &out);
  } else {
    return WrongForm(fit, "loss at compute", "power_law_compute, power_law_shared_e or chinchilla");
  }
  out.extrapolation_factor = compute / fit.max_trained_flops;
  return out;
}

absl::StatusOr<AllocationPrediction> PredictOptimalAllocation(const FitResult& fit,
                                                              double compute) {
  if (absl::Status s = CheckUsable(fit); !s.ok()) return s;
  if (absl::Status s = CheckPositive("compute", compute); !s.ok()) return s;
  AllocationPrediction out;
  if (fit.form == FitForm::kChinchilla) {
    const AllocationIntervals i = EvaluateAllocation(fit, [&](const std::vector<double>& v) {
      return ComputeOptimalAllocation(ChinchillaFromVector(v), compute);
    });
    out.params = i.params;
    out.tokens = i.tokens;
    out.loss = i.loss;
  } else if (fit.form == FitForm::kIsoflop) {
    const AllocationIntervals i = EvaluateAllocation(fit, [&](const std::vector<double>& v) {
      const AllocationLaw law = AllocationFromVector(v);
      return Allocation{law.ParamsAt(compute), law.TokensAt(compute),
                        std::numeric_limits<double>::quiet_NaN()};
    });
    out.params = i.params;
    out.tokens = i.tokens;
  } else {
    return WrongForm(fit, "the compute-optimal allocation", "chinchilla or isoflop");
  }
  out.tokens_per_param = out.tokens.estimate / out.params.estimate;
  out.extrapolation_factor = compute / fit.max_trained_flops;
  return out;
}

}  // namespace ladder::fit
