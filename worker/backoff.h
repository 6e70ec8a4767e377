// Exponential backoff with jitter for retrying calls to the coordinator:
// initial, 2x, 4x, ... capped at `max`, each multiplied by a random factor in
// [1 - jitter, 1 + jitter] so that many workers retrying after a coordinator
// restart do not arrive in lockstep. Not thread-safe (one owner).
#pragma once

#include <algorithm>
#include <chrono>
#include <random>

namespace ladder::worker {

class Backoff {
 public:
  Backoff(std::chrono::milliseconds initial, std::chrono::milliseconds max, double jitter = 0.2)
      : initial_(initial),
        max_(std::max(initial, max)),
        jitter_(jitter),
        next_(initial),
        rng_(std::random_device{}()) {}

  // The delay before the next retry; grows until `max`.
  std::chrono::milliseconds Next() {
    const auto base = next_;
    next_ = std::min(max_, next_ * 2);
    std::uniform_real_distribution<double> factor(1.0 - jitter_, 1.0 + jitter_);
    return std::chrono::milliseconds(std::max<int64_t>(
        1, static_cast<int64_t>(static_cast<double>(base.count()) * factor(rng_))));
  }
  // After a success: the next failure starts again from `initial`.
  void Reset() { next_ = initial_; }
  // True when no failure happened since construction or the last Reset().
  bool fresh() const { return next_ == initial_; }

 private:
  std::chrono::milliseconds initial_;
  std::chrono::milliseconds max_;
  double jitter_;
  std::chrono::milliseconds next_;
  std::mt19937_64 rng_;
};

}  // namespace ladder::worker
