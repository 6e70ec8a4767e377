#include "worker/device_monitor.h"

#include <gtest/gtest.h>
#include <prometheus/text_serializer.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

namespace ladder::worker {
namespace {

using namespace std::chrono_literals;
using std::chrono::steady_clock;

constexpr double kMiB = 1024.0 * 1024.0;

v1::Device Device(int index, const std::string& kind, int threads = 2, int64_t memory = 8LL << 30) {
  v1::Device d;
  d.set_index(index);
  d.set_kind(kind);
  d.set_model(kind);
  d.set_memory_bytes(memory);
  d.set_threads(threads);
  return d;
}

// Scripted nvidia-smi output and process-group usage.
class FakeProbe : public DeviceUsageProbe {
 public:
  absl::StatusOr<std::string> QueryGpuUsage() override {
    ++gpu_queries;
    return gpu;
  }
  std::map<pid_t, ProcessGroupUsage> ProcessGroups(const std::set<pid_t>& pgids) override {
    std::map<pid_t, ProcessGroupUsage> out;
    for (pid_t p : pgids) {
      if (auto it = groups.find(p); it != groups.end()) out[p] = it->second;
    }
    return out;
  }
  absl::StatusOr<std::string> gpu = std::string();
  std::map<pid_t, ProcessGroupUsage> groups;
  int gpu_queries = 0;
};

double Sample(const WorkerMetrics& m, const std::string& series) {
  std::ostringstream out;
  prometheus::TextSerializer().Serialize(out, m.registry()->Collect());
  std::istringstream in(out.str());
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind(series + " ", 0) == 0) return std::stod(line.substr(series.size() + 1));
  }
  return NAN;
}

TEST(ParseGpuUsageTest, ReadsNvidiaSmiCsvInBaseUnits) {
  auto gpus = ParseGpuUsage("0, 37, 1234, 81559\n1, 100, 80000, 81559\n\n");
  ASSERT_TRUE(gpus.ok()) << gpus.status();
  ASSERT_EQ(gpus->size(), 2u);
  EXPECT_EQ((*gpus)[0].index, 0);
  EXPECT_DOUBLE_EQ(*(*gpus)[0].utilization_ratio, 0.37);
  EXPECT_DOUBLE_EQ(*(*gpus)[0].memory_used_bytes, 1234 * kMiB);
  EXPECT_DOUBLE_EQ(*(*gpus)[1].memory_total_bytes, 81559 * kMiB);
  EXPECT_DOUBLE_EQ(*(*gpus)[1].utilization_ratio, 1.0);
}

TEST(ParseGpuUsageTest, ReadsWhatAnH100PrintsUnderLoad) {
  // Captured from an NVIDIA H100 80GB HBM3 during a bf16 matmul loop (the
  // exact query SystemDeviceUsageProbe runs), and idle.
  auto busy = ParseGpuUsage("0, 100, 1011, 81559\n");
  ASSERT_TRUE(busy.ok()) << busy.status();
  EXPECT_DOUBLE_EQ(*(*busy)[0].utilization_ratio, 1.0);
  EXPECT_DOUBLE_EQ(*(*busy)[0].memory_used_bytes, 1011 * kMiB);
  EXPECT_DOUBLE_EQ(*(*busy)[0].memory_total_bytes, 81559 * kMiB);
  auto idle = ParseGpuUsage("0, 0, 0, 81559\n");
  ASSERT_TRUE(idle.ok()) << idle.status();
  EXPECT_DOUBLE_EQ(*(*idle)[0].utilization_ratio, 0.0);
  EXPECT_DOUBLE_EQ(*(*idle)[0].memory_used_bytes, 0.0);
}

TEST(ParseGpuUsageTest, NotAvailableFieldsAreUnsetNotZero) {
  auto gpus = ParseGpuUsage("0, [N/A], 500, 40960\n1, [Not Supported], [N/A], 40960\n");
  ASSERT_TRUE(gpus.ok()) << gpus.status();
  EXPECT_FALSE((*gpus)[0].utilization_ratio.has_value());
  EXPECT_DOUBLE_EQ(*(*gpus)[0].memory_used_bytes, 500 * kMiB);
  EXPECT_FALSE((*gpus)[1].memory_used_bytes.has_value());
}

TEST(ParseGpuUsageTest, MalformedLinesAreRefusedWithTheirNumber) {
  for (const char* bad : {"0, 37, 1234\n", "x, 1, 2, 3\n", "0, 37, lots, 3\n", "0, -4, 1, 2\n"}) {
    auto gpus = ParseGpuUsage(std::string("0, 1, 2, 3\n") + bad);
    ASSERT_FALSE(gpus.ok()) << bad;
    EXPECT_EQ(gpus.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_NE(gpus.status().message().find("line 2"), std::string::npos) << gpus.status();
  }
}

TEST(ParseProcStatTest, CountsFromTheLastParenthesisSoOddNamesParse) {
  // Fields: pid (comm) state ppid pgrp session tty tpgid flags minflt cminflt
  // majflt cmajflt utime stime cutime cstime priority nice threads itreal
  // starttime vsize rss ...
  const std::string line =
      "4242 (ladder sim) (x)) S 1 4242 4242 0 -1 4194560 100 0 0 0 150 50 20 30 20 0 4 0 "
      "999 123456789 2560 18446744073709551615 0 0 0 0 0 0 0 0 0 0 0 0 17 3 0 0 0 0 0";
  auto s = ParseProcStat(line);
  ASSERT_TRUE(s.has_value());
  EXPECT_EQ(s->pgrp, 4242);
  EXPECT_EQ(s->cpu_ticks, 150 + 50 + 20 + 30);
  EXPECT_EQ(s->rss_pages, 2560);
  EXPECT_FALSE(ParseProcStat("garbage").has_value());
  EXPECT_FALSE(ParseProcStat("1 (x) S 1 2").has_value());
}

TEST(DeviceMonitorTest, GpusAreReportedFromNvidiaSmiOnlyForRegisteredIndexes) {
  FakeProbe probe;
  probe.gpu = std::string("0, 37, 1024, 81559\n1, 99, 2048, 81559\n");
  const std::vector<v1::Device> devices = {Device(1, "cuda")};  // --devices cuda:1
  WorkerMetrics metrics(devices);
  DeviceMonitor monitor(devices, probe, metrics);
  monitor.SampleOnce(steady_clock::now());
  EXPECT_DOUBLE_EQ(
      Sample(metrics, "ladder_worker_device_utilization_ratio{device=\"1\",kind=\"cuda\"}"), 0.99);
  EXPECT_EQ(Sample(metrics, "ladder_worker_device_memory_used_bytes{device=\"1\",kind=\"cuda\"}"),
            2048 * kMiB);
  EXPECT_TRUE(std::isnan(
      Sample(metrics, "ladder_worker_device_utilization_ratio{device=\"0\",kind=\"cuda\"}")));
}

TEST(DeviceMonitorTest, AFailingNvidiaSmiRemovesStaleValuesAndCountsAnError) {
  FakeProbe probe;
  probe.gpu = std::string("0, 50, 1024, 81559\n");
  const std::vector<v1::Device> devices = {Device(0, "cuda")};
  WorkerMetrics metrics(devices);
  DeviceMonitor monitor(devices, probe, metrics);
  monitor.SampleOnce(steady_clock::now());
  EXPECT_DOUBLE_EQ(
      Sample(metrics, "ladder_worker_device_utilization_ratio{device=\"0\",kind=\"cuda\"}"), 0.5);
  probe.gpu = absl::DeadlineExceededError("nvidia-smi: no answer within 10000ms; killed");
  monitor.SampleOnce(steady_clock::now());
  EXPECT_TRUE(std::isnan(
      Sample(metrics, "ladder_worker_device_utilization_ratio{device=\"0\",kind=\"cuda\"}")));
  EXPECT_EQ(Sample(metrics, "ladder_worker_device_sample_errors_total"), 1);
  probe.gpu = std::string("this is not csv\n");
  monitor.SampleOnce(steady_clock::now());
  EXPECT_EQ(Sample(metrics, "ladder_worker_device_sample_errors_total"), 2);
}

TEST(DeviceMonitorTest, CpuSlotUtilisationIsTheTrainersCpuTimeOverWallTimeAndThreads) {
  FakeProbe probe;
  const std::vector<v1::Device> devices = {Device(0, "cpu", /*threads=*/2),
                                           Device(1, "cpu", /*threads=*/2)};
  WorkerMetrics metrics(devices);
  DeviceMonitor monitor(devices, probe, metrics);
  // No trainers: idle slots read 0, and nvidia-smi is never asked.
  monitor.SampleOnce(steady_clock::now());
  EXPECT_EQ(Sample(metrics, "ladder_worker_device_utilization_ratio{device=\"0\",kind=\"cpu\"}"),
            0);
  EXPECT_EQ(Sample(metrics, "ladder_worker_device_memory_total_bytes{device=\"0\",kind=\"cpu\"}"),
            8.0 * (1LL << 30));
  EXPECT_EQ(probe.gpu_queries, 0);

  metrics.TrainerStarted(1, 777);
  const auto started = metrics.RunningTrainers().at(1).started;
  // 3 CPU seconds in the first 2 s on a 2-thread slot: 75% busy.
  probe.groups[777] = {3.0, 500e6};
  monitor.SampleOnce(started + 2s);
  EXPECT_DOUBLE_EQ(
      Sample(metrics, "ladder_worker_device_utilization_ratio{device=\"1\",kind=\"cpu\"}"), 0.75);
  EXPECT_EQ(Sample(metrics, "ladder_worker_device_memory_used_bytes{device=\"1\",kind=\"cpu\"}"),
            500e6);
  EXPECT_EQ(Sample(metrics, "ladder_worker_device_utilization_ratio{device=\"0\",kind=\"cpu\"}"),
            0);
  // The next 4 s add 2 CPU seconds: 25%.
  probe.groups[777] = {5.0, 600e6};
  monitor.SampleOnce(started + 6s);
  EXPECT_DOUBLE_EQ(
      Sample(metrics, "ladder_worker_device_utilization_ratio{device=\"1\",kind=\"cpu\"}"), 0.25);

  // A new trainer on the slot starts from zero again.
  metrics.TrainerExited(1);
  monitor.SampleOnce(started + 7s);
  EXPECT_EQ(Sample(metrics, "ladder_worker_device_utilization_ratio{device=\"1\",kind=\"cpu\"}"),
            0);
  EXPECT_EQ(Sample(metrics, "ladder_worker_device_memory_used_bytes{device=\"1\",kind=\"cpu\"}"),
            0);
  metrics.TrainerStarted(1, 888);
  probe.groups[888] = {1.0, 1e6};
  monitor.SampleOnce(metrics.RunningTrainers().at(1).started + 1s);
  EXPECT_DOUBLE_EQ(
      Sample(metrics, "ladder_worker_device_utilization_ratio{device=\"1\",kind=\"cpu\"}"), 0.5);
}

TEST(SystemDeviceUsageProbeTest, MeasuresThisProcessGroupFromProc) {
  // This test's own process group: a live group with some CPU time and memory.
  SystemDeviceUsageProbe probe;
  const pid_t pgid = ::getpgrp();
  volatile double sink = 0;
  for (int i = 0; i < 20000000; ++i) sink = sink + std::sqrt(static_cast<double>(i));
  auto groups = probe.ProcessGroups({pgid, 999999999});
  ASSERT_EQ(groups.count(pgid), 1u);
  EXPECT_EQ(groups.count(999999999), 0u);
  EXPECT_GT(groups[pgid].cpu_seconds, 0.0);
  EXPECT_GT(groups[pgid].rss_bytes, 1e6);
}

// A directory holding a fake `nvidia-smi` script, put first on PATH for
// the test's lifetime.
class FakeNvidiaSmi {
 public:
  explicit FakeNvidiaSmi(const std::string& body) {
    char tmpl[] = "/tmp/ladder-nvsmi-XXXXXX";
    dir_ = ::mkdtemp(tmpl);
    const std::string path = dir_ + "/nvidia-smi";
    std::ofstream(path) << "#!/bin/sh\n" << body << "\n";
    ::chmod(path.c_str(), 0755);
    const char* old = std::getenv("PATH");
    saved_ = old ? old : "";
    ::setenv("PATH", (dir_ + ":" + saved_).c_str(), 1);
  }
  ~FakeNvidiaSmi() {
    ::setenv("PATH", saved_.c_str(), 1);
    std::filesystem::remove_all(dir_);
  }

 private:
  std::string dir_;
  std::string saved_;
};

TEST(SystemDeviceUsageProbeTest, RunsNvidiaSmiWithTheQueryAndReturnsItsOutput) {
  // The fake echoes its arguments, so the test sees the exact query too.
  FakeNvidiaSmi smi("echo \"0, 12, 34, 56 $*\"");
  SystemDeviceUsageProbe probe;
  auto out = probe.QueryGpuUsage();
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(*out,
            "0, 12, 34, 56 --query-gpu=index,utilization.gpu,memory.used,memory.total "
            "--format=csv,noheader,nounits\n");
}

TEST(SystemDeviceUsageProbeTest, AHungNvidiaSmiIsKilledAtTheTimeout) {
  FakeNvidiaSmi smi("exec sleep 30");
  SystemDeviceUsageProbe probe(300ms);
  const auto start = steady_clock::now();
  auto out = probe.QueryGpuUsage();
  EXPECT_LT(steady_clock::now() - start, 5s);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kDeadlineExceeded) << out.status();
}

TEST(SystemDeviceUsageProbeTest, AFailingNvidiaSmiIsUnavailable) {
  FakeNvidiaSmi smi("echo 'NVIDIA-SMI has failed' ; exit 9");
  SystemDeviceUsageProbe probe;
  auto out = probe.QueryGpuUsage();
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kUnavailable) << out.status();
}

TEST(SystemDeviceUsageProbeTest, AMissingNvidiaSmiIsNotFound) {
  // Runs only the error path: with an empty PATH no nvidia-smi can be found.
  const char* saved = std::getenv("PATH");
  const std::string path = saved ? saved : "";
  ::setenv("PATH", "/nonexistent", 1);
  SystemDeviceUsageProbe probe;
  auto out = probe.QueryGpuUsage();
  ::setenv("PATH", path.c_str(), 1);
  ASSERT_FALSE(out.ok());
  EXPECT_EQ(out.status().code(), absl::StatusCode::kNotFound) << out.status();
}

}  // namespace
}  // namespace ladder::worker
