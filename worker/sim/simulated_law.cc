#include "worker/sim/simulated_law.h"

#include <algorithm>
#include <cmath>

namespace ladder::sim {

LawParams DefaultLaw(model::Family family) {
  switch (family) {
    case model::Family::kTransformer:
      return {0.70, 30.0, 0.30, 60.0, 0.28};
    case model::Family::kLstm:
      return {0.75, 25.0, 0.24, 60.0, 0.26};
  }
  return {0.70, 30.0, 0.30, 60.0, 0.28};
}

double EffectiveTokens(double tokens, double unique_tokens) {
  if (unique_tokens <= 0 || unique_tokens >= tokens) return tokens;
  const double repeats = tokens / unique_tokens - 1.0;  // R, epochs beyond the first
  return unique_tokens + unique_tokens * kRStarD * (1.0 - std::exp(-repeats / kRStarD));
}

double LawLoss(const LawParams& law, double params, double effective_tokens, int vocab) {
  const double loss =
      law.E + law.A / std::pow(params, law.alpha) + law.B / std::pow(effective_tokens, law.beta);
  return std::min(loss, std::log(static_cast<double>(std::max(vocab, 2))));
}

namespace {
uint64_t SplitMix64(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}
// Uniform in (0, 1), never 0 (log is taken).
double Uniform(uint64_t bits) { return ((bits >> 11) + 0.5) * (1.0 / 9007199254740992.0); }
}  // namespace

double Normal(uint64_t seed, uint64_t stream, uint64_t index) {
  const uint64_t base = SplitMix64(seed ^ SplitMix64(stream * 0x632be59bd9b4e019ULL + index));
  const double u1 = Uniform(SplitMix64(base));
  const double u2 = Uniform(SplitMix64(base + 1));
  const double z = std::sqrt(-2.0 * std::log(u1)) * std::cos(2.0 * M_PI * u2);
  return std::clamp(z, -4.0, 4.0);
}

uint64_t Fnv1a(const std::string& text) {
  uint64_t h = 0xcbf29ce484222325ULL;
  for (unsigned char c : text) {
    h ^= c;
    h *= 0x100000001b3ULL;
  }
  return h;
}

}  // namespace ladder::sim
