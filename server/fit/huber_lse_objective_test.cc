#include "server/fit/huber_lse_objective.h"

#include <gtest/gtest.h>

#include <cmath>
#include <vector>

#include "server/fit/approach3.h"
#include "server/fit/data_constrained_objective.h"

namespace ladder::fit {
namespace {

LogSpaceRuns SomeRuns() {
  std::vector<double> ln, ld, ll;
  for (int i = 0; i < 12; ++i) {
    const double n = 1e6 * std::pow(3.0, i % 4), d = 2e7 * std::pow(2.5, i / 4);
    ln.push_back(std::log(n));
    ld.push_back(std::log(d));
    ll.push_back(std::log(1.7 + 400 * std::pow(n, -0.34) + 410 * std::pow(d, -0.28)) +
                 0.002 * ((i * 7) % 5 - 2));
  }
  return MakeLogSpaceRuns(ln, ld, ll);
}

TEST(HuberTest, IsQuadraticInsideDeltaAndLinearOutside) {
  EXPECT_DOUBLE_EQ(Huber(5e-4, 1e-3), 0.5 * 25e-8);
  EXPECT_DOUBLE_EQ(Huber(-0.01, 1e-3), 1e-3 * (0.01 - 0.5e-3));
}

TEST(HuberLseObjectiveTest, CostIsHuberOfLogResidualsOfTheLaw) {
  const LogSpaceRuns runs = SomeRuns();
  HuberLseObjective objective(&runs, 1e-3);
  const std::vector<double> theta = ThetaFromLaw({1.6, 350.0, 0.3, 500.0, 0.3});
  double cost = 0;
  ASSERT_TRUE(objective.Evaluate(theta.data(), &cost, nullptr));
  const ChinchillaLaw law = LawFromTheta(theta);
  double expected = 0;
  for (int i = 0; i < runs.size(); ++i) {
    const double r =
        std::log(law.Loss(std::exp(runs.log_params[i]), std::exp(runs.log_tokens[i]))) -
        runs.log_loss[i];
    expected += Huber(r, 1e-3);
  }
  EXPECT_NEAR(cost, expected, 1e-12);
}

TEST(HuberLseObjectiveTest, GradientMatchesCentralDifferences) {
  const LogSpaceRuns runs = SomeRuns();
  // A small delta puts some residuals in each Huber regime at these points.
  HuberLseObjective objective(&runs, 1e-3);
  for (const std::vector<double>& theta :
       {ThetaFromLaw({1.6, 350.0, 0.3, 500.0, 0.3}), std::vector<double>{5, 0.5, 10, 0.5, 0.5},
        std::vector<double>{25, 2.0, 0, 0, -1}}) {
    double cost = 0, grad[5];
    ASSERT_TRUE(objective.Evaluate(theta.data(), &cost, grad));
    for (int k = 0; k < 5; ++k) {
      std::vector<double> hi = theta, lo = theta;
      const double h = 1e-7;
      hi[k] += h;
      lo[k] -= h;
      double c_hi = 0, c_lo = 0;
      objective.Evaluate(hi.data(), &c_hi, nullptr);
      objective.Evaluate(lo.data(), &c_lo, nullptr);
      EXPECT_NEAR(grad[k], (c_hi - c_lo) / (2 * h), 1e-6 * (1 + std::abs(grad[k]))) << "k=" << k;
    }
  }
}

TEST(HuberLseObjectiveTest, WeightsCountRunsMoreThanOnce) {
  LogSpaceRuns once = SomeRuns();
  LogSpaceRuns twice = once;
  twice.weight *= 2.0;
  HuberLseObjective a(&once, 1e-3), b(&twice, 1e-3);
  const std::vector<double> theta{5, 0.4, 8, 0.3, 0.5};
  double ca = 0, cb = 0;
  a.Evaluate(theta.data(), &ca, nullptr);
  b.Evaluate(theta.data(), &cb, nullptr);
  EXPECT_NEAR(cb, 2 * ca, 1e-12);
}

TEST(HuberLseObjectiveTest, HugeParametersDoNotOverflow) {
  const LogSpaceRuns runs = SomeRuns();
  HuberLseObjective objective(&runs, 1e-3);
  const std::vector<double> theta{800, 0.0, 900, 0.0, 700};  // exp(800) overflows a double
  double cost = 0, grad[5];
  EXPECT_TRUE(objective.Evaluate(theta.data(), &cost, grad));
  EXPECT_TRUE(std::isfinite(cost));
}

TEST(DataConstrainedObjectiveTest, GradientMatchesCentralDifferences) {
  DataConstrainedRuns runs;
  runs.base = SomeRuns();
  const int n = runs.size();
  runs.log_unique.resize(n);
  runs.repeats.resize(n);
  for (int i = 0; i < n; ++i) {
    runs.repeats[i] = (i % 3) * 4.0;  // 0, 4 or 8 repeated epochs
    runs.log_unique[i] = runs.base.log_tokens[i] - std::log(1.0 + runs.repeats[i]);
  }
  DataConstrainedObjective objective(&runs, 1e-3);
  const std::vector<double> theta{6.0, 0.34, 6.0, 0.28, 0.5, std::log(5.0)};
  double cost = 0, grad[6];
  ASSERT_TRUE(objective.Evaluate(theta.data(), &cost, grad));
  for (int k = 0; k < 6; ++k) {
    std::vector<double> hi = theta, lo = theta;
    const double h = 1e-7;
    hi[k] += h;
    lo[k] -= h;
    double c_hi = 0, c_lo = 0;
    objective.Evaluate(hi.data(), &c_hi, nullptr);
    objective.Evaluate(lo.data(), &c_lo, nullptr);
    EXPECT_NEAR(grad[k], (c_hi - c_lo) / (2 * h), 1e-6 * (1 + std::abs(grad[k]))) << "k=" << k;
  }
}

TEST(DataConstrainedObjectiveTest, RunsWithoutRepetitionKeepTheirTokens) {
  DataConstrainedRuns runs;
  runs.base = SomeRuns();
  runs.log_unique = runs.base.log_tokens;
  runs.repeats = Eigen::ArrayXd::Zero(runs.size());
  EXPECT_TRUE(LogEffectiveTokens(runs, std::log(15.39)).isApprox(runs.base.log_tokens));
}

}  // namespace
}  // namespace ladder::fit
