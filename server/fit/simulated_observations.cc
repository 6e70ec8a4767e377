#include "server/fit/simulated_observations.h"

#include <cmath>
#include <random>

namespace ladder::fit {

namespace {

class Noise {
 public:
  Noise(double sigma, uint64_t seed) : sigma_(sigma), rng_(seed) {}
  double operator()(double loss) { return loss * std::exp(sigma_ * normal_(rng_)); }

 private:
  double sigma_;
  std::mt19937_64 rng_;
  std::normal_distribution<double> normal_{0.0, 1.0};
};

Observation MakeRun(int64_t id, const std::string& family, double n, double d, double loss) {
  Observation o;
  o.run_id = id;
  o.family = family;
  o.params = n;
  o.tokens = d;
  o.flops = 6.0 * n * d;
  o.flops_6nd = 6.0 * n * d;
  o.loss = loss;
  return o;
}

}  // namespace

std::vector<double> LogSpaced(double lo, double hi, int count) {
  std::vector<double> out;
  if (count <= 0) return out;
  if (count == 1) return {lo};
  for (int i = 0; i < count; ++i) {
    const double t = static_cast<double>(i) / (count - 1);
    out.push_back(std::exp(std::log(lo) + t * (std::log(hi) - std::log(lo))));
  }
  return out;
}

std::vector<Observation> SimulateIsoflopSweep(const ChinchillaLaw& law, const IsoflopDesign& design,
                                              double sigma, uint64_t seed,
                                              const std::string& family) {
  Noise noise(sigma, seed);
  std::vector<Observation> runs;
  int64_t id = 1;
  for (double c : design.budgets) {
    const double n_opt = ComputeOptimalAllocation(law, c).params;
    for (double n :
         LogSpaced(n_opt / design.size_span, n_opt * design.size_span, design.sizes_per_budget)) {
      const double d = c / (6.0 * n);
      Observation o = MakeRun(id++, family, n, d, noise(law.Loss(n, d)));
      o.flops = o.flops_6nd = o.budget = c;
      runs.push_back(o);
    }
  }
  return runs;
}

ChinchillaLaw PublishedChinchillaLaw() {
  ChinchillaLaw law;
  law.E = 1.69;
  law.A = 406.4;
  law.alpha = 0.34;
  law.B = 410.7;
  law.beta = 0.28;
  return law;
}

IsoflopDesign ChinchillaLikeDesign(int budgets, int sizes_per_budget) {
  IsoflopDesign design;
  design.budgets = LogSpaced(1e17, 1e21, budgets);
  design.sizes_per_budget = sizes_per_budget;
  design.size_span = 8.0;
  return design;
}

std::vector<Observation> SimulateGrid(const ChinchillaLaw& law, const std::vector<double>& params,
                                      const std::vector<double>& tokens, double sigma,
                                      uint64_t seed, const std::string& family) {
  Noise noise(sigma, seed);
  std::vector<Observation> runs;
  int64_t id = 1;
  for (double n : params) {
    for (double d : tokens) runs.push_back(MakeRun(id++, family, n, d, noise(law.Loss(n, d))));
  }
  return runs;
}

std::vector<Observation> SimulatePowerLawRuns(const PowerLawInCompute& law,
                                              const std::vector<double>& computes, double sigma,
                                              uint64_t seed, int curve_points, double curve_gap,
                                              const std::string& family) {
  Noise noise(sigma, seed);
  std::vector<Observation> runs;
  int64_t id = 1;
  for (double c : computes) {
    const double n = std::sqrt(c / (6.0 * 20.0));
    Observation o = MakeRun(id++, family, n, 20.0 * n, noise(law.Loss(c)));
    o.flops = c;
    for (int k = 0; k < curve_points; ++k) {
      // Fractions from 1/100 of the run to its end.
      const double f = std::exp(std::log(0.01) * (1.0 - static_cast<double>(k + 1) / curve_points));
      CurvePoint p;
      p.tokens = f * o.tokens;
      p.flops = f * c;
      p.loss = noise(law.Loss(p.flops) * (1.0 + curve_gap * (1.0 - f)));
      o.curve.push_back(p);
    }
    runs.push_back(o);
  }
  return runs;
}

std::vector<Observation> SimulateDataConstrainedSweep(const DataConstrainedLaw& law,
                                                      const std::vector<double>& params,
                                                      const std::vector<double>& unique_tokens,
                                                      const std::vector<double>& epochs,
                                                      double sigma, uint64_t seed,
                                                      const std::string& family) {
  Noise noise(sigma, seed);
  std::vector<Observation> runs;
  int64_t id = 1;
  for (double n : params) {
    for (double u : unique_tokens) {
      for (double ep : epochs) {
        const double d = ep * u;
        Observation o = MakeRun(id++, family, n, d, noise(law.Loss(n, d, u)));
        o.unique_tokens = u;
        runs.push_back(o);
      }
    }
  }
  return runs;
}

}  // namespace ladder::fit
