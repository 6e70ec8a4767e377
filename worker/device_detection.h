// Which devices this worker registers: its GPUs (one device each, kind
// "cuda", from nvidia-smi) or, without GPUs, its CPU split into `cpu_slots`
// devices of kind "cpu". The raw facts come from a HostProbe so tests can
// describe any machine.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "ladder/v1/ladder.pb.h"

namespace ladder::worker {

// --devices: "auto" (GPUs if nvidia-smi lists any, else the CPU), "cpu", or
// "cuda:0,2" (exactly those GPUs; "cuda" = all of them).
struct DeviceSelection {
  enum class Mode { kAuto, kCpu, kCuda };
  Mode mode = Mode::kAuto;
  std::vector<int> cuda_indexes;  // kCuda: empty = every GPU
};
absl::StatusOr<DeviceSelection> ParseDeviceSelection(const std::string& text);

// Raw facts about the machine. Implementations need not be thread-safe.
class HostProbe {
 public:
  virtual ~HostProbe() = default;
  // stdout of `nvidia-smi --query-gpu=index,name,memory.total
  // --format=csv,noheader,nounits`; nullopt when nvidia-smi is absent or fails.
  virtual std::optional<std::string> QueryGpus() = 0;
  virtual std::string MemInfo() = 0;   // the text of /proc/meminfo
  virtual std::string CpuModel() = 0;  // "AMD EPYC 7B13", or "cpu" when unknown
  virtual int HardwareThreads() = 0;   // logical CPUs (>= 1)
};

// The real machine: runs nvidia-smi (found on PATH), reads /proc.
class SystemHostProbe : public HostProbe {
 public:
  std::optional<std::string> QueryGpus() override;
  std::string MemInfo() override;
  std::string CpuModel() override;
  int HardwareThreads() override;
};

struct GpuInfo {
  int index = 0;
  std::string name;
  int64_t memory_bytes = 0;
};
// Parses nvidia-smi's CSV ("0, NVIDIA H100 80GB HBM3, 81559" per line, MiB).
// Errors: INVALID_ARGUMENT naming the line.
absl::StatusOr<std::vector<GpuInfo>> ParseNvidiaSmi(const std::string& csv);
// MemTotal from /proc/meminfo, in bytes; 0 when absent.
int64_t ParseMemTotalBytes(const std::string& meminfo);

// The devices to register, indexed as the coordinator will see them: a GPU
// keeps its nvidia-smi index; CPU slots are 0..cpu_slots-1, each with
// MemTotal / cpu_slots bytes. Threads per device: `threads_per_slot`, or
// when 0, the machine's threads divided evenly (at least 1).
// Errors: FAILED_PRECONDITION ("--devices cuda:1: nvidia-smi lists GPUs 0")
// when the selection asks for GPUs the machine does not have.
absl::StatusOr<std::vector<v1::Device>> DetectDevices(HostProbe& probe,
                                                      const DeviceSelection& selection,
                                                      int cpu_slots, int threads_per_slot);

// The trainer's --device for a registered device: "cpu" or "cuda:K".
std::string TrainerDeviceName(const v1::Device& device);

}  // namespace ladder::worker
