#include "worker/train/device_info.h"

#include <gtest/gtest.h>

namespace ladder::train {
namespace {

TEST(PeakFlopsTest, KnownGpusHaveTheirDenseBf16Peak) {
  EXPECT_EQ(PeakBf16Flops("NVIDIA H100 80GB HBM3"), 989.4e12);
  EXPECT_EQ(PeakBf16Flops("NVIDIA H100 PCIe"), 756e12);
  EXPECT_EQ(PeakBf16Flops("NVIDIA H100 NVL"), 835e12);
  EXPECT_EQ(PeakBf16Flops("NVIDIA H200"), 989.4e12);
  EXPECT_EQ(PeakBf16Flops("NVIDIA GH200 480GB"), 989.4e12);
  EXPECT_EQ(PeakBf16Flops("NVIDIA A100-SXM4-80GB"), 312e12);
  EXPECT_EQ(PeakBf16Flops("NVIDIA A100 80GB PCIe"), 312e12);
  EXPECT_EQ(PeakBf16Flops("NVIDIA A10"), 125e12);
  EXPECT_EQ(PeakBf16Flops("NVIDIA L4"), 121e12);
  EXPECT_EQ(PeakBf16Flops("NVIDIA L40S"), 362e12);
}

TEST(PeakFlopsTest, UnknownGpusHaveNoPeak) {
  EXPECT_FALSE(PeakBf16Flops("Tesla V100-SXM2-16GB").has_value());
  EXPECT_FALSE(PeakBf16Flops("NVIDIA A10G").has_value());
  EXPECT_FALSE(PeakBf16Flops("NVIDIA L40").has_value());
  EXPECT_FALSE(PeakBf16Flops("").has_value());
}

TEST(MfuTest, IsAchievedOverPeakAndUnknownWithoutAPeak) {
  EXPECT_DOUBLE_EQ(*Mfu(494.7e12, 989.4e12), 0.5);
  EXPECT_FALSE(Mfu(1e12, std::nullopt).has_value());
}

TEST(QueryCudaDeviceTest, AnswersWithoutCrashingWhereverItRuns) {
  // No GPU on CI: nothing. On a GPU machine: a name and some memory.
  if (auto gpu = QueryCudaDevice(0)) {
    EXPECT_FALSE(gpu->name.empty());
    EXPECT_GT(gpu->total_memory_bytes, 0);
  }
  EXPECT_FALSE(QueryCudaDevice(1 << 20).has_value());
}

}  // namespace
}  // namespace ladder::train
