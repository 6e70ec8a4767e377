// Which tokens each step trains on and which tokens the eval uses. Pure
// functions of (span size, context, seed, step), so a resumed run reads
// exactly what an uninterrupted one would have read.
#pragma once

#include <cstdint>
#include <vector>

namespace ladder::train {

// Training windows. The training span of U tokens is cut into
//   n = floor(U / T) - 1
// windows of T+1 tokens (T inputs, and the targets shifted by one). Epoch e
// visits them in a fresh permutation drawn from (seed, e) and shifts every
// window by an offset o_e in [0, T) (o_0 = 0), so a repeated epoch also sees
// new window boundaries: window k of epoch e starts at o_e + perm_e[k] * T.
// The global window index w = e * n + k runs across epochs, so step s with
// B sequences per step reads windows s*B .. s*B+B-1.
class TrainOrder {
 public:
  TrainOrder(int64_t span_tokens, int context, uint64_t seed);

  int64_t windows_per_epoch() const { return windows_; }
  int64_t tokens_per_epoch() const { return windows_ * context_; }
  // Start (within the span) of global window `w`; it holds T+1 tokens.
  int64_t WindowStart(int64_t w);

 private:
  void DrawEpoch(int64_t epoch);

  int64_t windows_;
  int context_;
  uint64_t seed_;
  int64_t epoch_ = -1;  // the epoch `perm_` and `offset_` belong to
  int64_t offset_ = 0;
  std::vector<int64_t> perm_;
};

// Evaluation windows: m = min(ceil(eval_tokens / T), floor((V - 1) / T))
// windows of T+1 tokens at fixed, evenly spaced starts over the validation
// span of V tokens, start_i = floor(i * (V - T - 1) / (m - 1)). They do not
// depend on the seed, so every run of a sweep is scored on the same tokens.
std::vector<int64_t> EvalWindowStarts(int64_t span_tokens, int context, int64_t eval_tokens);

// SplitMix64 (Steele, Lea & Flood 2014): a small, portable generator, so the
// data order does not depend on the standard library's distributions.
class SplitMix64 {
 public:
  explicit SplitMix64(uint64_t state) : state_(state) {}
  uint64_t Next();
  // Uniform in [0, bound) (modulo bias < bound / 2^64, negligible here).
  uint64_t Below(uint64_t bound) { return Next() % bound; }

 private:
  uint64_t state_;
};

}  // namespace ladder::train
