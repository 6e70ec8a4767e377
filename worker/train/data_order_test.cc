#include "worker/train/data_order.h"

#include <gtest/gtest.h>

#include <algorithm>
#include <set>

namespace ladder::train {
namespace {

TEST(TrainOrderTest, EachEpochVisitsEveryWindowOnce) {
  TrainOrder order(10000, 64, 7);
  const int64_t n = order.windows_per_epoch();
  EXPECT_EQ(n, 10000 / 64 - 1);
  for (int64_t epoch = 0; epoch < 3; ++epoch) {
    std::set<int64_t> starts;
    int64_t offset = -1;
    for (int64_t k = 0; k < n; ++k) {
      const int64_t s = order.WindowStart(epoch * n + k);
      if (offset < 0) offset = s % 64;
      EXPECT_EQ(s % 64, offset) << "one offset per epoch";
      starts.insert(s);
    }
    EXPECT_EQ(static_cast<int64_t>(starts.size()), n) << "epoch " << epoch;
  }
}

TEST(TrainOrderTest, FirstEpochStartsOnWindowBoundaries) {
  TrainOrder order(5000, 50, 1);
  for (int64_t k = 0; k < order.windows_per_epoch(); ++k) EXPECT_EQ(order.WindowStart(k) % 50, 0);
}

TEST(TrainOrderTest, WindowsStayInsideTheSpanInEveryEpoch) {
  const int64_t span = 3000;
  const int context = 64;
  TrainOrder order(span, context, 3);
  for (int64_t w = 0; w < 20 * order.windows_per_epoch(); ++w) {
    const int64_t s = order.WindowStart(w);
    ASSERT_GE(s, 0);
    ASSERT_LE(s + context + 1, span) << "window " << w;
  }
}

TEST(TrainOrderTest, RepeatedEpochsAreShuffledAfresh) {
  TrainOrder order(100000, 32, 5);
  const int64_t n = order.windows_per_epoch();
  std::vector<int64_t> first, second;
  for (int64_t k = 0; k < n; ++k) first.push_back(order.WindowStart(k) / 32);
  for (int64_t k = 0; k < n; ++k) second.push_back(order.WindowStart(n + k) / 32);
  EXPECT_NE(first, second);
}

TEST(TrainOrderTest, SameSeedGivesTheSameOrderAndOtherSeedsDiffer) {
  TrainOrder a(50000, 64, 11), b(50000, 64, 11), c(50000, 64, 12);
  int same_as_c = 0;
  for (int64_t w = 0; w < 2000; ++w) {
    EXPECT_EQ(a.WindowStart(w), b.WindowStart(w));
    same_as_c += a.WindowStart(w) == c.WindowStart(w);
  }
  EXPECT_LT(same_as_c, 50);
}

TEST(TrainOrderTest, AFreshOrderResumesMidRunExactly) {
  // A resumed attempt builds a new TrainOrder and jumps straight to a later window.
  TrainOrder full(20000, 16, 9);
  std::vector<int64_t> expected;
  for (int64_t w = 0; w < 5000; ++w) expected.push_back(full.WindowStart(w));
  TrainOrder resumed(20000, 16, 9);
  for (int64_t w = 3100; w < 5000; ++w) EXPECT_EQ(resumed.WindowStart(w), expected[w]);
}

TEST(EvalWindowsTest, AreFixedEvenlySpacedAndInsideTheSpan) {
  const auto starts = EvalWindowStarts(206951, 128, 131072);
  ASSERT_EQ(starts.size(), 1024u);
  EXPECT_EQ(starts.front(), 0);
  EXPECT_EQ(starts.back(), 206951 - 128 - 1);
  for (size_t i = 1; i < starts.size(); ++i) EXPECT_GE(starts[i] - starts[i - 1], 128);
  EXPECT_EQ(starts, EvalWindowStarts(206951, 128, 131072));
}

TEST(EvalWindowsTest, AreCappedByTheValidationSpan) {
  const auto starts = EvalWindowStarts(1000, 100, 1000000);
  EXPECT_EQ(starts.size(), 9u);  // floor((1000 - 1) / 100)
  EXPECT_LE(starts.back() + 101, 1000);
  EXPECT_EQ(EvalWindowStarts(101, 100, 5000).size(), 1u);
}

TEST(SplitMix64Test, MatchesTheReferenceSequence) {
  // First outputs for seed 1234567 from the reference implementation
  // (Vigna, prng.di.unimi.it/splitmix64.c).
  SplitMix64 rng(1234567);
  EXPECT_EQ(rng.Next(), 6457827717110365317ULL);
  EXPECT_EQ(rng.Next(), 3203168211198807973ULL);
}

}  // namespace
}  // namespace ladder::train
