// Samples the worker's devices for its metrics, on a thread of its own so
// that a slow (or hung) nvidia-smi never stalls the event loop.
//
// What is measured, honestly:
//   cuda  utilisation, memory used and memory total of each registered GPU,
//         from `nvidia-smi --query-gpu=index,utilization.gpu,memory.used,
//         memory.total --format=csv,noheader,nounits` (the whole GPU, whoever
//         uses it). A field nvidia-smi reports as "[N/A]" (e.g. under MIG) is
//         not reported; a failed or timed-out nvidia-smi removes the GPU
//         series and counts ladder_worker_device_sample_errors_total.
//   cpu   a CPU "device" is a slot, not hardware, so what is measured is the
//         slot's trainer: CPU seconds per second of its process group (the
//         trainer and what it starts, from /proc/<pid>/stat utime + stime +
//         cutime + cstime) divided by the slot's threads, and the group's
//         resident memory; total memory is the slot's registered share of
//         MemTotal. An idle slot reads 0. The ratio can exceed 1 when a
//         trainer uses more threads than it was given.
// Operating-system effects sit behind DeviceUsageProbe so tests inject
// nvidia-smi output and process usage.
//
// Threading: Start/Stop from the owner's thread; SampleOnce is also callable
// directly (tests) when the thread is not running.
#pragma once

#include <absl/status/statusor.h>
#include <sys/types.h>

#include <chrono>
#include <condition_variable>
#include <map>
#include <mutex>
#include <optional>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include "ladder/v1/ladder.pb.h"
#include "worker/worker_metrics.h"

namespace ladder::worker {

// CPU time and resident memory of one process group.
struct ProcessGroupUsage {
  double cpu_seconds = 0;  // own + waited-for children, summed over the group
  double rss_bytes = 0;
};

class DeviceUsageProbe {
 public:
  virtual ~DeviceUsageProbe() = default;
  // nvidia-smi's CSV (see above). Errors: NOT_FOUND (no nvidia-smi),
  // DEADLINE_EXCEEDED (it hung and was killed), UNAVAILABLE (it failed).
  virtual absl::StatusOr<std::string> QueryGpuUsage() = 0;
  // Usage of each of `pgids` that has a live process; absent groups are
  // left out.
  virtual std::map<pid_t, ProcessGroupUsage> ProcessGroups(const std::set<pid_t>& pgids) = 0;
};

// The real machine: nvidia-smi from PATH (killed after `timeout`), /proc.
class SystemDeviceUsageProbe : public DeviceUsageProbe {
 public:
  explicit SystemDeviceUsageProbe(std::chrono::milliseconds timeout = std::chrono::seconds(10))
      : timeout_(timeout) {}
  absl::StatusOr<std::string> QueryGpuUsage() override;
  std::map<pid_t, ProcessGroupUsage> ProcessGroups(const std::set<pid_t>& pgids) override;

 private:
  std::chrono::milliseconds timeout_;
};

struct GpuUsage {
  int index = 0;
  std::optional<double> utilization_ratio;  // utilization.gpu / 100
  std::optional<double> memory_used_bytes;  // MiB * 2^20
  std::optional<double> memory_total_bytes;
};
// Parses "0, 37, 1234, 81559" lines; "[N/A]"-style fields become nullopt.
// Errors: INVALID_ARGUMENT naming the line.
absl::StatusOr<std::vector<GpuUsage>> ParseGpuUsage(const std::string& csv);

// One /proc/<pid>/stat line's fields that matter here; nullopt if malformed.
struct ProcStat {
  pid_t pgrp = 0;
  double cpu_ticks = 0;  // utime + stime + cutime + cstime
  double rss_pages = 0;
};
std::optional<ProcStat> ParseProcStat(const std::string& line);

class DeviceMonitor {
 public:
  // `probe` and `metrics` must outlive the monitor. Only `devices` are
  // reported (the ones the worker registered).
  DeviceMonitor(std::vector<v1::Device> devices, DeviceUsageProbe& probe, WorkerMetrics& metrics);
  ~DeviceMonitor();
  DeviceMonitor(const DeviceMonitor&) = delete;
  DeviceMonitor& operator=(const DeviceMonitor&) = delete;

  // Samples now and then every `interval` on a new thread, until Stop.
  void Start(std::chrono::milliseconds interval);
  void Stop();

  // One sampling round at `now` (steady clock).
  void SampleOnce(std::chrono::steady_clock::time_point now);

 private:
  struct CpuSlot {
    pid_t pgid = 0;  // 0: no trainer seen yet
    double cpu_seconds = 0;
    std::chrono::steady_clock::time_point at;
  };
  void SampleGpus();
  void SampleCpus(std::chrono::steady_clock::time_point now);

  const std::vector<v1::Device> devices_;
  DeviceUsageProbe& probe_;
  WorkerMetrics& metrics_;
  std::map<int, CpuSlot> cpu_slots_;  // sampling thread only

  std::mutex mu_;
  std::condition_variable wake_;
  bool stopping_ = false;  // guarded by mu_
  std::thread thread_;
};

}  // namespace ladder::worker
