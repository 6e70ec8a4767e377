#include "server/fit/compute_frontier.h"

#include <gtest/gtest.h>

namespace ladder::fit {
namespace {

Observation RunAt(double flops, double loss) {
  Observation o;
  o.params = 1e6;
  o.tokens = flops / 6e6;
  o.flops = flops;
  o.loss = loss;
  return o;
}

TEST(ComputeFrontierTest, KeepsOnlyPointsBelowEverythingCheaper) {
  const std::vector<Observation> runs{RunAt(1e15, 3.0), RunAt(2e15, 3.2),  RunAt(4e15, 2.8),
                                      RunAt(4e15, 2.7), RunAt(8e15, 2.75), RunAt(1.6e16, 2.5)};
  const std::vector<FrontierPoint> f = ComputeFrontier(runs, FlopsCount::kExact, false);
  ASSERT_EQ(f.size(), 3u);
  EXPECT_EQ(f[0].run, 0);
  EXPECT_EQ(f[1].run, 3);  // the better of two runs at the same compute
  EXPECT_EQ(f[2].run, 5);
}

TEST(ComputeFrontierTest, CurvePointsJoinTheEnvelopeWhenAsked) {
  Observation big = RunAt(1e16, 2.5);
  big.curve = {{1e8, 2e15, 2.9}, {2e9, 4e15, 2.6}, {0, 0, 1.0}};  // the last is invalid
  const std::vector<Observation> runs{RunAt(1e15, 3.0), RunAt(4e15, 2.8), big};
  EXPECT_EQ(ComputeFrontier(runs, FlopsCount::kExact, false).size(), 3u);
  const std::vector<FrontierPoint> f = ComputeFrontier(runs, FlopsCount::kExact, true);
  ASSERT_EQ(f.size(), 4u);  // 1e15, 2e15 (curve), 4e15 (curve beats the run), 1e16
  EXPECT_FALSE(f[1].final_point);
  EXPECT_EQ(f[2].loss, 2.6);
  // 6ND compute of curve points uses the run's N and the point's tokens:
  // the first curve point moves to 6e14, the cheapest of all.
  const std::vector<FrontierPoint> g = ComputeFrontier(runs, FlopsCount::kSixND, true);
  ASSERT_EQ(g.size(), 3u);
  EXPECT_DOUBLE_EQ(g[0].compute, 6.0 * 1e6 * 1e8);
  EXPECT_FALSE(g[0].final_point);
}

TEST(ComputeFrontierTest, CountsLeaveRunsOut) {
  const std::vector<Observation> runs{RunAt(1e15, 3.0), RunAt(2e15, 2.9), RunAt(4e15, 2.8)};
  const std::vector<FrontierPoint> f = ComputeFrontier(runs, FlopsCount::kExact, false, {2, 0, 1});
  ASSERT_EQ(f.size(), 2u);
  EXPECT_EQ(f[1].run, 2);
}

}  // namespace
}  // namespace ladder::fit
