#include "worker/device_detection.h"

#include <gtest/gtest.h>

namespace ladder::worker {
namespace {

class FakeHostProbe : public HostProbe {
 public:
  std::optional<std::string> gpus;
  std::string meminfo = "MemTotal:       16384000 kB\nMemFree:         1000 kB\n";
  std::string cpu = "Test CPU 9000";
  int threads = 8;
  std::optional<std::string> QueryGpus() override { return gpus; }
  std::string MemInfo() override { return meminfo; }
  std::string CpuModel() override { return cpu; }
  int HardwareThreads() override { return threads; }
};

// The first line is what nvidia-smi printed on an H100 machine.
constexpr char kTwoGpus[] =
    "0, NVIDIA H100 80GB HBM3, 81559\n"
    "1, NVIDIA H100 80GB HBM3, 81559\n";

TEST(DeviceSelectionTest, ParsesEveryForm) {
  EXPECT_EQ(ParseDeviceSelection("auto")->mode, DeviceSelection::Mode::kAuto);
  EXPECT_EQ(ParseDeviceSelection("cpu")->mode, DeviceSelection::Mode::kCpu);
  EXPECT_TRUE(ParseDeviceSelection("cuda")->cuda_indexes.empty());
  EXPECT_EQ(ParseDeviceSelection("cuda:0,2")->cuda_indexes, (std::vector<int>{0, 2}));
  EXPECT_EQ(ParseDeviceSelection("gpu").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDeviceSelection("cuda:x").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDeviceSelection("cuda:1,1").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(ParseDeviceSelection("cuda:").status().code(), absl::StatusCode::kInvalidArgument);
}

TEST(DeviceDetectionTest, ParsesNvidiaSmiCsv) {
  auto gpus = ParseNvidiaSmi(kTwoGpus);
  ASSERT_TRUE(gpus.ok()) << gpus.status();
  ASSERT_EQ(gpus->size(), 2u);
  EXPECT_EQ((*gpus)[1].index, 1);
  EXPECT_EQ((*gpus)[1].name, "NVIDIA H100 80GB HBM3");
  EXPECT_EQ((*gpus)[1].memory_bytes, 81559LL * 1024 * 1024);
  EXPECT_EQ(ParseNvidiaSmi("0, broken\n").status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_TRUE(ParseNvidiaSmi("")->empty());
}

TEST(DeviceDetectionTest, ReadsMemTotal) {
  EXPECT_EQ(ParseMemTotalBytes("MemFree: 1 kB\nMemTotal:   2048 kB\n"), 2048 * 1024);
  EXPECT_EQ(ParseMemTotalBytes("nothing"), 0);
}

TEST(DeviceDetectionTest, GpusAreRegisteredOneDeviceEach) {
  FakeHostProbe probe;
  probe.gpus = kTwoGpus;
  auto devices = DetectDevices(probe, *ParseDeviceSelection("auto"), 3, 0);
  ASSERT_TRUE(devices.ok()) << devices.status();
  ASSERT_EQ(devices->size(), 2u);
  EXPECT_EQ((*devices)[0].kind(), "cuda");
  EXPECT_EQ((*devices)[1].index(), 1);
  EXPECT_EQ((*devices)[1].threads(), 4);  // 8 threads over 2 GPUs
  EXPECT_EQ(TrainerDeviceName((*devices)[1]), "cuda:1");
}

TEST(DeviceDetectionTest, WithoutGpusTheCpuIsSplitIntoSlots) {
  FakeHostProbe probe;  // nvidia-smi absent
  auto devices = DetectDevices(probe, *ParseDeviceSelection("auto"), 4, 0);
  ASSERT_TRUE(devices.ok()) << devices.status();
  ASSERT_EQ(devices->size(), 4u);
  for (int i = 0; i < 4; ++i) {
    EXPECT_EQ((*devices)[i].index(), i);
    EXPECT_EQ((*devices)[i].kind(), "cpu");
    EXPECT_EQ((*devices)[i].model(), "Test CPU 9000");
    EXPECT_EQ((*devices)[i].memory_bytes(), 16384000LL * 1024 / 4);
    EXPECT_EQ((*devices)[i].threads(), 2);
  }
  EXPECT_EQ(TrainerDeviceName((*devices)[0]), "cpu");
}

TEST(DeviceDetectionTest, CpuSelectionIgnoresGpusAndThreadsPerSlotWins) {
  FakeHostProbe probe;
  probe.gpus = kTwoGpus;
  auto devices = DetectDevices(probe, *ParseDeviceSelection("cpu"), 1, 3);
  ASSERT_TRUE(devices.ok()) << devices.status();
  ASSERT_EQ(devices->size(), 1u);
  EXPECT_EQ((*devices)[0].kind(), "cpu");
  EXPECT_EQ((*devices)[0].threads(), 3);
}

TEST(DeviceDetectionTest, CudaSelectionPicksListedGpusOrFails) {
  FakeHostProbe probe;
  probe.gpus = kTwoGpus;
  auto one = DetectDevices(probe, *ParseDeviceSelection("cuda:1"), 1, 0);
  ASSERT_TRUE(one.ok()) << one.status();
  ASSERT_EQ(one->size(), 1u);
  EXPECT_EQ((*one)[0].index(), 1);
  EXPECT_EQ((*one)[0].threads(), 8);

  auto missing = DetectDevices(probe, *ParseDeviceSelection("cuda:5"), 1, 0);
  EXPECT_EQ(missing.status().code(), absl::StatusCode::kFailedPrecondition);
  FakeHostProbe no_gpus;
  EXPECT_EQ(DetectDevices(no_gpus, *ParseDeviceSelection("cuda"), 1, 0).status().code(),
            absl::StatusCode::kFailedPrecondition);
}

}  // namespace
}  // namespace ladder::worker
