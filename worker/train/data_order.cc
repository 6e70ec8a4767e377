#include "worker/train/data_order.h"

#include <algorithm>
#include <numeric>

namespace ladder::train {

uint64_t SplitMix64::Next() {
  uint64_t z = (state_ += 0x9E3779B97F4A7C15ULL);
  z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9ULL;
  z = (z ^ (z >> 27)) * 0x94D049BB133111EBULL;
  return z ^ (z >> 31);
}

TrainOrder::TrainOrder(int64_t span_tokens, int context, uint64_t seed)
    : windows_(std::max<int64_t>(1, span_tokens / context - 1)), context_(context), seed_(seed) {}

void TrainOrder::DrawEpoch(int64_t epoch) {
  // One generator per (seed, epoch); the seed is mixed first so that nearby
  // seeds and epochs give unrelated streams.
  SplitMix64 mix(seed_);
  SplitMix64 rng(mix.Next() ^ (0xD1B54A32D192ED03ULL * static_cast<uint64_t>(epoch + 1)));
  offset_ = epoch == 0 ? 0 : static_cast<int64_t>(rng.Below(context_));
  perm_.resize(windows_);
  std::iota(perm_.begin(), perm_.end(), int64_t{0});
  // Fisher-Yates shuffle (Knuth, TAOCP vol. 2, algorithm 3.4.2 P).
  for (int64_t i = windows_ - 1; i > 0; --i) {
    std::swap(perm_[i], perm_[rng.Below(static_cast<uint64_t>(i) + 1)]);
  }
  epoch_ = epoch;
}

int64_t TrainOrder::WindowStart(int64_t w) {
  const int64_t epoch = w / windows_;
  if (epoch != epoch_) DrawEpoch(epoch);
  return offset_ + perm_[w % windows_] * context_;
}

std::vector<int64_t> EvalWindowStarts(int64_t span_tokens, int context, int64_t eval_tokens) {
  const int64_t T = context;
  const int64_t wanted = (eval_tokens + T - 1) / T;
  const int64_t fit = (span_tokens - 1) / T;
  const int64_t m = std::max<int64_t>(1, std::min(wanted, fit));
  std::vector<int64_t> starts(m, 0);
  if (m == 1) return starts;
  const int64_t room = span_tokens - T - 1;  // last possible start
  for (int64_t i = 0; i < m; ++i) {
    // i * room fits in 64 bits: both are below 2^40 for any real corpus.
    starts[i] = i * room / (m - 1);
  }
  return starts;
}

}  // namespace ladder::train
