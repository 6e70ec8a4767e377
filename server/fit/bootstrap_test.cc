#include "server/fit/bootstrap.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <limits>
#include <numeric>

#include "server/fit/parallel.h"

namespace ladder::fit {
namespace {

TEST(QuantileTest, InterpolatesBetweenOrderStatistics) {
  std::vector<double> v{4, 1, 3, 2, 5};
  EXPECT_DOUBLE_EQ(Quantile(&v, 0.5), 3.0);
  std::vector<double> w{1, 2, 3, 4};
  EXPECT_DOUBLE_EQ(Quantile(&w, 0.5), 2.5);
  std::vector<double> x{10, 20};
  EXPECT_DOUBLE_EQ(Quantile(&x, 0.025), 10.25);
}

TEST(QuantileTest, IgnoresNaNAndKeepsInfinity) {
  const double inf = std::numeric_limits<double>::infinity();
  std::vector<double> v{std::nan(""), 1, 2, inf, inf};
  EXPECT_DOUBLE_EQ(Quantile(&v, 0.0), 1.0);
  std::vector<double> w{std::nan(""), 1, 2, inf, inf};
  EXPECT_TRUE(std::isinf(Quantile(&w, 1.0)));
  std::vector<double> none{std::nan("")};
  EXPECT_TRUE(std::isnan(Quantile(&none, 0.5)));
}

TEST(PercentileIntervalTest, EmptySamplesGiveNaNBounds) {
  const Interval i = PercentileInterval(2.0, {});
  EXPECT_EQ(i.estimate, 2.0);
  EXPECT_TRUE(std::isnan(i.lower));
  EXPECT_TRUE(std::isnan(i.upper));
}

TEST(ResampleCountsTest, DrawsNRunsDeterministicallyPerSeedAndResample) {
  const std::vector<int> a = ResampleCounts(50, 7, 3);
  EXPECT_EQ(std::accumulate(a.begin(), a.end(), 0), 50);
  EXPECT_EQ(a, ResampleCounts(50, 7, 3));
  EXPECT_NE(a, ResampleCounts(50, 7, 4));
  EXPECT_NE(a, ResampleCounts(50, 8, 3));
  int absent = 0;
  for (int c : a) absent += c == 0;
  EXPECT_GT(absent, 5);  // about 50 / e runs are left out of a resample
}

TEST(ResampleCountsTest, StratifiedKeepsEachStratumsSize) {
  const std::vector<int> stratum{0, 0, 0, 1, 1, 2, 2, 2, 2};
  for (int k = 0; k < 20; ++k) {
    const std::vector<int> c = StratifiedResampleCounts(stratum, 1, k);
    EXPECT_EQ(c[0] + c[1] + c[2], 3);
    EXPECT_EQ(c[3] + c[4], 2);
    EXPECT_EQ(c[5] + c[6] + c[7] + c[8], 4);
  }
}

TEST(RunBootstrapTest, KeepsSuccessesInResampleOrderAndCountsFailures) {
  const BootstrapOutcome out = RunBootstrap(10, 3, [](int k) -> std::optional<std::vector<double>> {
    if (k % 3 == 0) return std::nullopt;
    return std::vector<double>{static_cast<double>(k)};
  });
  EXPECT_EQ(out.requested, 10);
  EXPECT_EQ(out.failed, 4);
  ASSERT_EQ(out.samples.size(), 6u);
  EXPECT_EQ(out.samples.front()[0], 1.0);
  EXPECT_EQ(out.samples.back()[0], 8.0);
}

TEST(ParallelForTest, VisitsEveryIndexOnce) {
  std::vector<std::atomic<int>> seen(1000);
  ParallelFor(1000, 4, [&](int i, int worker) {
    EXPECT_GE(worker, 0);
    EXPECT_LT(worker, 4);
    seen[i]++;
  });
  for (const auto& s : seen) EXPECT_EQ(s.load(), 1);
}

}  // namespace
}  // namespace ladder::fit
