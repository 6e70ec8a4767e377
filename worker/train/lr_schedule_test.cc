#include "worker/train/lr_schedule.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ladder::train {
namespace {

TEST(LrScheduleTest, WarmupRisesLinearlyToThePeak) {
  const LrSchedule s = MakeLrSchedule(1e-3, 0.1, 0.1, 100);
  EXPECT_EQ(s.warmup_steps, 10);
  EXPECT_DOUBLE_EQ(s.At(0), 1e-4);
  EXPECT_DOUBLE_EQ(s.At(4), 5e-4);
  EXPECT_DOUBLE_EQ(s.At(9), 1e-3);
}

TEST(LrScheduleTest, CosineStartsAtThePeakAndEndsAtTheFloor) {
  const LrSchedule s = MakeLrSchedule(1e-3, 0.1, 0.1, 100);
  EXPECT_DOUBLE_EQ(s.At(10), 1e-3);
  EXPECT_DOUBLE_EQ(s.At(99), 1e-4);
  // Halfway through the decay (p = 0.5): floor + (peak - floor) / 2.
  const LrSchedule t = MakeLrSchedule(1.0, 0.0, 0.0, 101);
  EXPECT_NEAR(t.At(50), 0.5, 1e-12);
  EXPECT_NEAR(t.At(25), 0.5 * (1 + std::cos(M_PI * 0.25)), 1e-12);
}

TEST(LrScheduleTest, DecreasesMonotonicallyAfterWarmup) {
  const LrSchedule s = MakeLrSchedule(3e-3, 0.1, 0.05, 1000);
  for (int64_t i = s.warmup_steps + 1; i < 1000; ++i) EXPECT_LE(s.At(i), s.At(i - 1));
}

TEST(LrScheduleTest, ZeroWarmupStartsAtThePeak) {
  const LrSchedule s = MakeLrSchedule(2e-3, 0.1, 0.0, 50);
  EXPECT_EQ(s.warmup_steps, 0);
  EXPECT_DOUBLE_EQ(s.At(0), 2e-3);
}

TEST(LrScheduleTest, SingleStepRunUsesThePeak) {
  const LrSchedule s = MakeLrSchedule(2e-3, 0.1, 0.5, 1);
  EXPECT_EQ(s.warmup_steps, 0);
  EXPECT_DOUBLE_EQ(s.At(0), 2e-3);
}

}  // namespace
}  // namespace ladder::train
