// What ladder-train knows about its GPU: the name (for the peak-FLOP table
// behind MFU) and the memory (for choosing a micro-batch). Read through the
// CUDA driver API, loaded at run time from libcuda.so.1, so this file needs
// no CUDA headers and works in a CPU-only build.
#pragma once

#include <cstdint>
#include <optional>
#include <string>

namespace ladder::train {

struct GpuInfo {
  std::string name;  // e.g. "NVIDIA H100 80GB HBM3"
  int64_t total_memory_bytes = 0;
};

// Device `index` as the CUDA runtime numbers it (CUDA_VISIBLE_DEVICES
// applies). nullopt when there is no driver or no such device.
std::optional<GpuInfo> QueryCudaDevice(int index);

// Peak dense (no sparsity) bf16 tensor-core FLOP/s of a GPU, by its name,
// from the vendor's data sheets:
//   H100 SXM (name "H100 80GB HBM3", "H100 SXM")  989.4e12
//   H100 NVL 835e12, H100 PCIe 756e12
//   H200 (SXM) 989.4e12, H200 NVL 835e12, GH200 989.4e12
//   A100 (SXM and PCIe) 312e12, A10 125e12, L40S 362e12, L4 121e12
//   B200 2250e12
// nullopt for any other name: MFU is then reported as unknown (null), not
// guessed.
std::optional<double> PeakBf16Flops(const std::string& gpu_name);

// Model FLOP utilisation, PaLM (Chowdhery et al. 2022, appendix B): achieved
// model FLOP/s (exact training FLOPs per token x tokens/s; recomputation not
// counted) over the device's peak. nullopt when the peak is unknown.
std::optional<double> Mfu(double model_flops_per_second, std::optional<double> peak);

}  // namespace ladder::train
