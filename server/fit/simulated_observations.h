// SIMULATION ONLY. Observations drawn from a known law with multiplicative
// log-normal noise, L_observed = L_true * exp(sigma * z), z ~ N(0, 1), for
// tests and benchmarks of the fits. Nothing here is a measurement.
// Deterministic for a given seed with one standard library (std::mt19937_64
// and libstdc++'s normal_distribution).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "server/fit/observation.h"
#include "server/fit/scaling_laws.h"

namespace ladder::fit {

// `count` values from lo to hi, evenly spaced in log (count >= 2; count == 1 gives lo).
std::vector<double> LogSpaced(double lo, double hi, int count);

// An IsoFLOP sweep (Hoffmann et al. 2022, Approach 2 design) from a Chinchilla
// law: for each budget C, `sizes_per_budget` sizes log-spaced from
// N_opt(C)/size_span to N_opt(C)*size_span around the law's own optimum, with
// D = C / (6N). Every run has flops = flops_6nd = budget = C and all tokens fresh.
struct IsoflopDesign {
  std::vector<double> budgets;
  int sizes_per_budget = 10;
  double size_span = 8.0;
};
std::vector<Observation> SimulateIsoflopSweep(const ChinchillaLaw& law, const IsoflopDesign& design,
                                              double sigma, uint64_t seed,
                                              const std::string& family = "simulated");

// The design used by the recovery tests and benchmarks: 25 budgets from 1e17
// to 1e21 FLOPs x 10 sizes = 250 runs, around Hoffmann et al.'s published law
// (E 1.69, A 406.4, B 410.7, alpha 0.34, beta 0.28).
ChinchillaLaw PublishedChinchillaLaw();
IsoflopDesign ChinchillaLikeDesign(int budgets = 25, int sizes_per_budget = 10);

// One run per (params, tokens) pair of the cross product; flops = 6ND.
std::vector<Observation> SimulateGrid(const ChinchillaLaw& law, const std::vector<double>& params,
                                      const std::vector<double>& tokens, double sigma,
                                      uint64_t seed, const std::string& family = "simulated");

// Runs whose final loss lies on L(C) = E + A C^-alpha (times noise), one per
// compute in `computes`, each trained at 20 tokens per parameter (6ND = C).
// With curve_points > 0 each run also gets a loss curve at log-spaced
// fractions of its compute, lying above the law by a relative `curve_gap`
// that shrinks to 0 at the end of the run (an unannealed schedule's gap).
std::vector<Observation> SimulatePowerLawRuns(const PowerLawInCompute& law,
                                              const std::vector<double>& computes, double sigma,
                                              uint64_t seed, int curve_points = 0,
                                              double curve_gap = 0.05,
                                              const std::string& family = "simulated");

// A data-constrained sweep (Muennighoff et al. 2023 design): every
// combination of size N, unique tokens U and epochs (D = epochs * U).
std::vector<Observation> SimulateDataConstrainedSweep(const DataConstrainedLaw& law,
                                                      const std::vector<double>& params,
                                                      const std::vector<double>& unique_tokens,
                                                      const std::vector<double>& epochs,
                                                      double sigma, uint64_t seed,
                                                      const std::string& family = "simulated");

}  // namespace ladder::fit
