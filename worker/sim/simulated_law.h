// The loss law ladder-sim draws its curves from. SIMULATION: nothing here
// trains a model; it produces the numbers a trainer would report if the
// scaling law below held exactly, plus noise.
//
// Final loss (Hoffmann et al. 2022, "Chinchilla", eq. 2 / Approach 3 form):
//   L(N, D) = E + A / N^alpha + B / D^beta
// with N the parameter count (non-embedding by default, see LawSpec::params)
// and D the training tokens. When the run repeats data (unique tokens U < D),
// D is replaced by Muennighoff et al. 2023's effective data (eq. 5, R*_D = 15.39):
//   D' = U + U * R*_D * (1 - exp(-R / R*_D)),  R = D/U - 1.
// A point after t tokens uses the same law at D = t (no warm-up shape), capped
// at ln(vocab), the loss of a uniform prediction.
//
// Pure functions: safe from any thread.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

#include "common/model/model_shape.h"

namespace ladder::sim {

struct LawParams {
  double E = 0;
  double A = 0;
  double alpha = 0;
  double B = 0;
  double beta = 0;
};

// Family defaults, plausible for byte-level models (losses in nats per byte;
// natural English text carries ~0.7-1.0 nats/byte at the limit). The
// transformer is better than the LSTM at every scale, with larger exponents,
// so the gap grows with compute (as Gundlach et al. 2025 report):
//   transformer: E 0.70, A 30, alpha 0.30, B 60, beta 0.28
//     (e.g. N=1e5, D=2e6 -> 2.68; N=1e7, D=2e8 -> 1.23)
//   lstm:        E 0.75, A 25, alpha 0.24, B 60, beta 0.26
//     (e.g. N=1e5, D=2e6 -> 3.70; N=1e7, D=2e8 -> 1.69)
LawParams DefaultLaw(model::Family family);

// Muennighoff et al. 2023's R*_D.
inline constexpr double kRStarD = 15.39;

// Effective data D' for `tokens` seen drawing on `unique_tokens` distinct
// tokens (0 or >= tokens: all fresh, D' = tokens).
double EffectiveTokens(double tokens, double unique_tokens);

// L(N, D') capped at ln(vocab). `tokens` must be positive.
double LawLoss(const LawParams& law, double params, double effective_tokens, int vocab);

// A deterministic standard-normal stream: Normal(seed, stream, index) is the
// same on every machine and every call (SplitMix64 + Box-Muller, clipped to
// +-4 so a rare draw cannot make a loss negative at sane noise levels).
double Normal(uint64_t seed, uint64_t stream, uint64_t index);

// FNV-1a, 64-bit, for fingerprints and seeds.
uint64_t Fnv1a(const std::string& text);

}  // namespace ladder::sim
