#include "worker/device_detection.h"

#include <absl/status/status.h>
#include <unistd.h>

#include <algorithm>
#include <boost/process/child.hpp>
#include <boost/process/io.hpp>
#include <boost/process/search_path.hpp>
#include <fstream>
#include <sstream>
#include <thread>

#include "common/logging.h"

namespace ladder::worker {
namespace {

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

}  // namespace

absl::StatusOr<DeviceSelection> ParseDeviceSelection(const std::string& text) {
  DeviceSelection s;
  if (text == "auto") return s;
  if (text == "cpu") {
    s.mode = DeviceSelection::Mode::kCpu;
    return s;
  }
  if (text == "cuda") {
    s.mode = DeviceSelection::Mode::kCuda;
    return s;
  }
  if (text.rfind("cuda:", 0) == 0) {
    s.mode = DeviceSelection::Mode::kCuda;
    std::stringstream list(text.substr(5));
    std::string item;
    while (std::getline(list, item, ',')) {
      char* end = nullptr;
      const long index = std::strtol(item.c_str(), &end, 10);
      if (item.empty() || *end != '\0' || index < 0 || index > 1024) {
        return absl::InvalidArgumentError("devices: '" + item + "' in '" + text +
                                          "' is not a GPU index");
      }
      if (std::find(s.cuda_indexes.begin(), s.cuda_indexes.end(), index) != s.cuda_indexes.end()) {
        return absl::InvalidArgumentError("devices: GPU " + item + " listed twice");
      }
      s.cuda_indexes.push_back(static_cast<int>(index));
    }
    if (s.cuda_indexes.empty()) return absl::InvalidArgumentError("devices: 'cuda:' lists no GPU");
    return s;
  }
  return absl::InvalidArgumentError("devices: '" + text + "' is not auto, cpu or cuda:0,1,...");
}

std::optional<std::string> SystemHostProbe::QueryGpus() {
  namespace bp = boost::process;
  const auto exe = bp::search_path("nvidia-smi");
  if (exe.empty()) return std::nullopt;
  try {
    bp::ipstream out;
    bp::child child(exe, "--query-gpu=index,name,memory.total", "--format=csv,noheader,nounits",
                    bp::std_out > out, bp::std_err > bp::null, bp::std_in < bp::null);
    std::string text;
    std::string line;
    while (std::getline(out, line)) text += line + "\n";
    child.wait();
    if (child.exit_code() != 0) {
      LOG_INFO << "nvidia-smi exited with " << child.exit_code() << "; assuming no GPUs";
      return std::nullopt;
    }
    return text;
  } catch (const std::exception& e) {
    LOG_WARN << "cannot run nvidia-smi: " << e.what();
    return std::nullopt;
  }
}

std::string SystemHostProbe::MemInfo() { return ReadFile("/proc/meminfo"); }

std::string SystemHostProbe::CpuModel() {
  std::istringstream in(ReadFile("/proc/cpuinfo"));
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) return Trim(line.substr(colon + 1));
    }
  }
  return "cpu";
}

int SystemHostProbe::HardwareThreads() {
  return std::max(1, static_cast<int>(std::thread::hardware_concurrency()));
}

absl::StatusOr<std::vector<GpuInfo>> ParseNvidiaSmi(const std::string& csv) {
  std::vector<GpuInfo> gpus;
  std::istringstream in(csv);
  std::string line;
  int line_no = 0;
  while (std::getline(in, line)) {
    ++line_no;
    if (Trim(line).empty()) continue;
    std::vector<std::string> fields;
    std::stringstream row(line);
    std::string field;
    while (std::getline(row, field, ',')) fields.push_back(Trim(field));
    // A GPU name could contain a comma: index first, memory last, name between.
    if (fields.size() < 3) {
      return absl::InvalidArgumentError("nvidia-smi line " + std::to_string(line_no) +
                                        ": want 'index, name, memory' in '" + line + "'");
    }
    GpuInfo gpu;
    char* end = nullptr;
    gpu.index = static_cast<int>(std::strtol(fields.front().c_str(), &end, 10));
    const bool index_ok = !fields.front().empty() && *end == '\0';
    const double mib = std::strtod(fields.back().c_str(), &end);
    const bool mem_ok = !fields.back().empty() && *end == '\0' && mib >= 0;
    if (!index_ok || !mem_ok) {
      return absl::InvalidArgumentError("nvidia-smi line " + std::to_string(line_no) +
                                        ": bad index or memory in '" + line + "'");
    }
    for (size_t i = 1; i + 1 < fields.size(); ++i) {
      if (i > 1) gpu.name += ", ";
      gpu.name += fields[i];
    }
    gpu.memory_bytes = static_cast<int64_t>(mib * 1024 * 1024);
    gpus.push_back(gpu);
  }
  return gpus;
}

int64_t ParseMemTotalBytes(const std::string& meminfo) {
  std::istringstream in(meminfo);
  std::string line;
  while (std::getline(in, line)) {
    if (line.rfind("MemTotal:", 0) == 0) {
      std::istringstream fields(line.substr(9));
      int64_t kib = 0;
      fields >> kib;
      return kib * 1024;
    }
  }
  return 0;
}

absl::StatusOr<std::vector<v1::Device>> DetectDevices(HostProbe& probe,
                                                      const DeviceSelection& selection,
                                                      int cpu_slots, int threads_per_slot) {
  std::vector<GpuInfo> gpus;
  if (selection.mode != DeviceSelection::Mode::kCpu) {
    if (auto csv = probe.QueryGpus()) {
      auto parsed = ParseNvidiaSmi(*csv);
      if (!parsed.ok()) return parsed.status();
      gpus = *std::move(parsed);
    }
  }
  const int hw = std::max(1, probe.HardwareThreads());
  std::vector<v1::Device> devices;
  if (selection.mode == DeviceSelection::Mode::kCuda) {
    if (gpus.empty()) {
      return absl::FailedPreconditionError("devices: GPUs asked for, but nvidia-smi lists none");
    }
    std::vector<GpuInfo> chosen;
    if (selection.cuda_indexes.empty()) {
      chosen = gpus;
    } else {
      for (int index : selection.cuda_indexes) {
        auto it = std::find_if(gpus.begin(), gpus.end(),
                               [index](const GpuInfo& g) { return g.index == index; });
        if (it == gpus.end()) {
          std::string have;
          for (const auto& g : gpus) have += (have.empty() ? "" : ",") + std::to_string(g.index);
          return absl::FailedPreconditionError("devices: cuda:" + std::to_string(index) +
                                               " not found; nvidia-smi lists GPUs " + have);
        }
        chosen.push_back(*it);
      }
    }
    gpus = chosen;
  }
  if (!gpus.empty()) {
    const int threads =
        threads_per_slot > 0 ? threads_per_slot : std::max(1, hw / static_cast<int>(gpus.size()));
    for (const auto& g : gpus) {
      v1::Device d;
      d.set_index(g.index);
      d.set_kind("cuda");
      d.set_model(g.name);
      d.set_memory_bytes(g.memory_bytes);
      d.set_threads(threads);
      devices.push_back(d);
    }
    return devices;
  }
  const int slots = std::max(1, cpu_slots);
  const int threads = threads_per_slot > 0 ? threads_per_slot : std::max(1, hw / slots);
  const int64_t memory = ParseMemTotalBytes(probe.MemInfo()) / slots;
  const std::string model = probe.CpuModel();
  for (int i = 0; i < slots; ++i) {
    v1::Device d;
    d.set_index(i);
    d.set_kind("cpu");
    d.set_model(model.empty() ? "cpu" : model);
    d.set_memory_bytes(memory);
    d.set_threads(threads);
    devices.push_back(d);
  }
  return devices;
}

std::string TrainerDeviceName(const v1::Device& device) {
  if (device.kind() == "cuda") return "cuda:" + std::to_string(device.index());
  return "cpu";
}

}  // namespace ladder::worker
