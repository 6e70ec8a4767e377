#include "worker/train/device_info.h"

#include <dlfcn.h>

#include <array>
#include <cstring>

namespace ladder::train {

std::optional<GpuInfo> QueryCudaDevice(int index) {
  // Driver API signatures (cuda.h): CUresult is an int, CUdevice an int.
  using InitFn = int (*)(unsigned int);
  using DeviceGetFn = int (*)(int*, int);
  using GetNameFn = int (*)(char*, int, int);
  using TotalMemFn = int (*)(size_t*, int);
  void* lib = ::dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return std::nullopt;
  auto init = reinterpret_cast<InitFn>(::dlsym(lib, "cuInit"));
  auto device_get = reinterpret_cast<DeviceGetFn>(::dlsym(lib, "cuDeviceGet"));
  auto get_name = reinterpret_cast<GetNameFn>(::dlsym(lib, "cuDeviceGetName"));
  auto total_mem = reinterpret_cast<TotalMemFn>(::dlsym(lib, "cuDeviceTotalMem_v2"));
  std::optional<GpuInfo> info;
  int device = 0;
  if (init && device_get && get_name && init(0) == 0 && device_get(&device, index) == 0) {
    std::array<char, 256> name{};
    if (get_name(name.data(), static_cast<int>(name.size()), device) == 0) {
      GpuInfo g;
      g.name = name.data();
      size_t bytes = 0;
      if (total_mem && total_mem(&bytes, device) == 0)
        g.total_memory_bytes = static_cast<int64_t>(bytes);
      info = g;
    }
  }
  // The driver stays loaded by libtorch anyway; closing our handle is harmless.
  ::dlclose(lib);
  return info;
}

std::optional<double> PeakBf16Flops(const std::string& name) {
  auto has = [&](const char* s) { return name.find(s) != std::string::npos; };
  // Most specific names first: "GH200" contains "H200", "H100 NVL" contains "H100".
  struct Entry {
    const char* a;
    const char* b;  // second substring that must also appear, or nullptr
    double peak;
  };
  static constexpr Entry kTable[] = {
      {"GH200", nullptr, 989.4e12}, {"H200", "NVL", 835e12},   {"H200", nullptr, 989.4e12},
      {"H100", "NVL", 835e12},      {"H100", "PCIe", 756e12},  {"H100", nullptr, 989.4e12},
      {"A100", nullptr, 312e12},    {"L40S", nullptr, 362e12}, {"B200", nullptr, 2250e12},
      {"A10", nullptr, 125e12},     {"L4", nullptr, 121e12},
  };
  for (const Entry& e : kTable) {
    if (!has(e.a) || (e.b != nullptr && !has(e.b))) continue;
    // "A10" must not match "A100", nor "L4" match "L40" (A100 is matched
    // above; L40 without S is not in the table).
    if (std::strcmp(e.a, "A10") == 0 && (has("A100") || has("A10G"))) continue;
    if (std::strcmp(e.a, "L4") == 0 && has("L40")) continue;
    return e.peak;
  }
  return std::nullopt;
}

std::optional<double> Mfu(double model_flops_per_second, std::optional<double> peak) {
  if (!peak || *peak <= 0) return std::nullopt;
  return model_flops_per_second / *peak;
}

}  // namespace ladder::train
