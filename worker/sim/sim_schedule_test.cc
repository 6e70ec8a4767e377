// ladder-sim reports the lr ladder-train would: the same schedule, the same
// step index (it was one step off after the warmup: its cosine started a
// step early and ran over S - W steps instead of S - W - 1).
#include "worker/sim/sim_schedule.h"

#include <gtest/gtest.h>

#include "worker/train/lr_schedule.h"

namespace ladder::sim {
namespace {

TEST(SimScheduleTest, ReportsLadderTrainsLrForTheStepJustTaken) {
  SimRunConfig c;
  c.lr = 1e-3;
  c.min_lr_ratio = 0.1;
  c.warmup_fraction = 0.25;
  const int64_t total = 8;  // warmup 2 steps, then cosine over steps 2..7 (0-based)
  const train::LrSchedule train = train::MakeLrSchedule(1e-3, 0.1, 0.25, total);
  for (int64_t done = 1; done <= total; ++done) {
    EXPECT_DOUBLE_EQ(ReportedLearningRate(c, done, total), train.At(done - 1)) << done;
  }
  EXPECT_DOUBLE_EQ(ReportedLearningRate(c, 1, total), 0.5e-3);  // first warmup step
  EXPECT_DOUBLE_EQ(ReportedLearningRate(c, 2, total), 1e-3);    // warmup done
  // The first step after the warmup is still at the peak (the sim had
  // 0.5 * (1 + cos(pi / 6)) of it), and the last one at the floor.
  EXPECT_DOUBLE_EQ(ReportedLearningRate(c, 3, total), 1e-3);
  EXPECT_DOUBLE_EQ(ReportedLearningRate(c, total, total), 1e-4);
}

}  // namespace
}  // namespace ladder::sim
