// The law forms Ladder fits, as plain functions of their parameters. Shared
// by the fits, the predictions, the family comparison and the simulator.
// All functions are pure and thread-safe.
#pragma once

namespace ladder::fit {

// Power law with a floor in compute: L(C) = E + A * C^(-alpha), E >= 0
// (SCIENCE.md "Power law with floor"; Kaplan et al. 2020 sec. 3 without E).
struct PowerLawInCompute {
  double E = 0;
  double A = 0;
  double alpha = 0;

  double Loss(double compute) const;
  // The compute at which the law reaches `loss`: (A / (loss - E))^(1/alpha).
  // +infinity when loss <= E (the floor is never reached), NaN for bad input.
  double ComputeForLoss(double loss) const;
};

// Chinchilla parametric law (Hoffmann et al. 2022, sec. 3.3, eq. 2):
// L(N, D) = E + A / N^alpha + B / D^beta.
struct ChinchillaLaw {
  double E = 0;
  double A = 0;
  double alpha = 0;
  double B = 0;
  double beta = 0;

  double Loss(double params, double tokens) const;
};

// A compute-optimal point: size, tokens and the loss the law gives there.
struct Allocation {
  double params = 0;
  double tokens = 0;
  double loss = 0;
};

// Compute-optimal allocation under C = 6ND (Hoffmann et al. 2022, eq. 4):
//   N_opt(C) = G (C/6)^a,  D_opt(C) = G^-1 (C/6)^b,
//   G = (alpha A / (beta B))^(1/(alpha+beta)),  a = beta/(alpha+beta),
//   b = alpha/(alpha+beta).
// Needs alpha, beta, A, B > 0 (NaNs otherwise).
Allocation ComputeOptimalAllocation(const ChinchillaLaw& law, double compute_6nd);

// Exponents a (of N_opt) and b (of D_opt) and the coefficient G of eq. 4.
double OptimalParamsExponent(const ChinchillaLaw& law);         // a = beta / (alpha + beta)
double OptimalTokensExponent(const ChinchillaLaw& law);         // b = alpha / (alpha + beta)
double OptimalAllocationCoefficient(const ChinchillaLaw& law);  // G

// The loss along the compute-optimal allocation, L(N_opt(C), D_opt(C)), is
// itself a power law in C: substituting eq. 4 into eq. 2, both reducible terms
// scale as (C/6)^(-gamma) with gamma = alpha beta / (alpha + beta), so
//   L_opt(C) = E + (A G^-alpha + B G^beta) 6^gamma C^-gamma.
PowerLawInCompute ComputeOptimalFrontier(const ChinchillaLaw& law);

// Data-constrained law (Muennighoff et al. 2023, "Scaling Data-Constrained
// Language Models", sec. 3.1): the Chinchilla form with D replaced by the
// effective data D' of U unique tokens repeated R = D/U - 1 times beyond the
// first epoch:
//   D' = U + U R*_D (1 - exp(-R / R*_D)).
// The excess-parameter term (N' with R*_N) is not part of this form: N' = N.
struct DataConstrainedLaw {
  ChinchillaLaw base;
  double r_star_d = 15.39;  // R*_D; Muennighoff et al. fitted 15.39

  // unique_tokens <= 0 or >= tokens means no repetition: D' = D.
  double EffectiveTokens(double tokens, double unique_tokens) const;
  double Loss(double params, double tokens, double unique_tokens) const;
};

// The result of Approach 2 (Hoffmann et al. 2022, sec. 3.2): compute-optimal
// size and tokens as power laws in C, N_opt = exp(log_n_coefficient) C^a and
// D_opt = exp(log_d_coefficient) C^b (coefficients in log for conditioning).
struct AllocationLaw {
  double a = 0;
  double log_n_coefficient = 0;
  double b = 0;
  double log_d_coefficient = 0;

  double ParamsAt(double compute) const;
  double TokensAt(double compute) const;
};

// D' of Muennighoff et al. 2023 sec. 3.1 for a given R*_D (see above).
double EffectiveTokens(double tokens, double unique_tokens, double r_star_d);

}  // namespace ladder::fit
