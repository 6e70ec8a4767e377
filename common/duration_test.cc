#include "common/duration.h"

#include <gtest/gtest.h>

namespace ladder {
namespace {

using std::chrono::milliseconds;

TEST(DurationTest, ParsesEveryUnit) {
  EXPECT_EQ(*ParseDuration("250ms"), milliseconds(250));
  EXPECT_EQ(*ParseDuration("30s"), milliseconds(30'000));
  EXPECT_EQ(*ParseDuration("1.5"), milliseconds(1'500));
  EXPECT_EQ(*ParseDuration("5m"), milliseconds(300'000));
  EXPECT_EQ(*ParseDuration("2h"), milliseconds(7'200'000));
  EXPECT_EQ(*ParseDuration("0"), milliseconds(0));
}

TEST(DurationTest, RefusesGarbageNegativeAndUnknownUnits) {
  EXPECT_EQ(ParseDuration("").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDuration("fast").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDuration("-1s").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDuration("3 days").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDuration("10us").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DurationTest, FormatsInTheLargestExactUnit) {
  EXPECT_EQ(FormatDuration(milliseconds(250)), "250ms");
  EXPECT_EQ(FormatDuration(milliseconds(30'000)), "30s");
  EXPECT_EQ(FormatDuration(milliseconds(600'000)), "10m");
  EXPECT_EQ(FormatDuration(milliseconds(3'600'000)), "1h");
  EXPECT_EQ(FormatDuration(milliseconds(0)), "0s");
  EXPECT_EQ(*ParseDuration(FormatDuration(milliseconds(1'234))), milliseconds(1'234));
}

}  // namespace
}  // namespace ladder
