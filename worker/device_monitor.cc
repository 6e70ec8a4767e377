#include "worker/device_monitor.h"

#include <absl/status/status.h>
#include <dirent.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <sstream>

#include "common/logging.h"

extern char** environ;

namespace ladder::worker {
namespace {

using std::chrono::milliseconds;
using std::chrono::steady_clock;

std::string Trim(const std::string& s) {
  const auto b = s.find_first_not_of(" \t\r\n");
  if (b == std::string::npos) return "";
  const auto e = s.find_last_not_of(" \t\r\n");
  return s.substr(b, e - b + 1);
}

// A number, or nullopt for nvidia-smi's "[N/A]", "[Not Supported]", "N/A".
// False in *ok when the field is neither.
std::optional<double> NumberOrNotAvailable(const std::string& field, bool* ok) {
  if (field.empty()) {
    *ok = false;
    return std::nullopt;
  }
  if (field.front() == '[' || field == "N/A") return std::nullopt;
  char* end = nullptr;
  const double v = std::strtod(field.c_str(), &end);
  if (*end != '\0' || !(v >= 0)) {
    *ok = false;
    return std::nullopt;
  }
  return v;
}

// Runs argv with stdout captured (stdin and stderr /dev/null); kills it
// after `timeout`. EINTR-safe: the worker's signal handlers may interrupt.
absl::StatusOr<std::string> RunCapture(const std::vector<std::string>& argv, milliseconds timeout) {
  int fds[2];
  if (::pipe2(fds, O_CLOEXEC) != 0) {
    return absl::UnavailableError(std::string("pipe: ") + std::strerror(errno));
  }
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, STDIN_FILENO, "/dev/null", O_RDONLY, 0);
  posix_spawn_file_actions_adddup2(&actions, fds[1], STDOUT_FILENO);
  posix_spawn_file_actions_addopen(&actions, STDERR_FILENO, "/dev/null", O_WRONLY, 0);
  std::vector<char*> args;
  for (const auto& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = -1;
  const int rc = ::posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  ::close(fds[1]);
  if (rc != 0) {
    ::close(fds[0]);
    if (rc == ENOENT) return absl::NotFoundError(argv[0] + ": not found");
    return absl::UnavailableError(argv[0] + ": " + std::strerror(rc));
  }
  std::string out;
  bool timed_out = false;
  const auto deadline = steady_clock::now() + timeout;
  char buffer[4096];
  for (;;) {
    const auto left = std::chrono::duration_cast<milliseconds>(deadline - steady_clock::now());
    if (left.count() <= 0) {
      timed_out = true;
      break;
    }
    pollfd p{fds[0], POLLIN, 0};
    const int ready = ::poll(&p, 1, static_cast<int>(left.count()));
    if (ready < 0 && errno == EINTR) continue;
    if (ready <= 0) {
      timed_out = ready == 0;
      break;
    }
    const ssize_t n = ::read(fds[0], buffer, sizeof buffer);
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) break;
    out.append(buffer, static_cast<size_t>(n));
    if (out.size() > (1 << 20)) break;  // far beyond any real output
  }
  ::close(fds[0]);
  if (timed_out) ::kill(pid, SIGKILL);
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  if (timed_out) {
    return absl::DeadlineExceededError(argv[0] + ": no answer within " +
                                       std::to_string(timeout.count()) + "ms; killed");
  }
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    return absl::UnavailableError(argv[0] + ": exit status " + std::to_string(status));
  }
  return out;
}

}  // namespace

// ---------------------------------------------------------------- parsing

absl::StatusOr<std::vector<GpuUsage>> ParseGpuUsage(const std::string& csv) {
  std::vector<GpuUsage> gpus;
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
    auto bad = [&] {
      return absl::InvalidArgumentError("nvidia-smi line " + std::to_string(line_no) +
                                        ": want 'index, utilization, memory used, memory total' "
                                        "in '" +
                                        line + "'");
    };
    if (fields.size() != 4) return bad();
    GpuUsage gpu;
    char* end = nullptr;
    const long index = std::strtol(fields[0].c_str(), &end, 10);
    if (fields[0].empty() || *end != '\0' || index < 0) return bad();
    gpu.index = static_cast<int>(index);
    bool ok = true;
    const auto util = NumberOrNotAvailable(fields[1], &ok);
    const auto used = NumberOrNotAvailable(fields[2], &ok);
    const auto total = NumberOrNotAvailable(fields[3], &ok);
    if (!ok) return bad();
    constexpr double kMiB = 1024.0 * 1024.0;
    if (util) gpu.utilization_ratio = *util / 100.0;
    if (used) gpu.memory_used_bytes = *used * kMiB;
    if (total) gpu.memory_total_bytes = *total * kMiB;
    gpus.push_back(gpu);
  }
  return gpus;
}

std::optional<ProcStat> ParseProcStat(const std::string& line) {
  // "pid (comm) state ppid pgrp ...": comm may hold spaces and parentheses,
  // so fields are counted from the last ')'.
  const auto close = line.rfind(')');
  if (close == std::string::npos) return std::nullopt;
  std::istringstream rest(line.substr(close + 1));
  std::vector<std::string> f;  // f[0] is field 3 (state)
  std::string token;
  while (rest >> token) f.push_back(token);
  if (f.size() < 22) return std::nullopt;
  auto num = [&f](int field) {
    return std::strtod(f[static_cast<size_t>(field - 3)].c_str(), nullptr);
  };
  ProcStat s;
  s.pgrp = static_cast<pid_t>(num(5));
  s.cpu_ticks = num(14) + num(15) + num(16) + num(17);  // utime stime cutime cstime
  s.rss_pages = std::max(0.0, num(24));
  return s;
}

// ---------------------------------------------------------------- the real machine

absl::StatusOr<std::string> SystemDeviceUsageProbe::QueryGpuUsage() {
  return RunCapture({"nvidia-smi", "--query-gpu=index,utilization.gpu,memory.used,memory.total",
                     "--format=csv,noheader,nounits"},
                    timeout_);
}

std::map<pid_t, ProcessGroupUsage> SystemDeviceUsageProbe::ProcessGroups(
    const std::set<pid_t>& pgids) {
  std::map<pid_t, ProcessGroupUsage> out;
  if (pgids.empty()) return out;
  static const double ticks = static_cast<double>(::sysconf(_SC_CLK_TCK));
  static const double page = static_cast<double>(::sysconf(_SC_PAGESIZE));
  DIR* proc = ::opendir("/proc");
  if (proc == nullptr) return out;
  while (dirent* entry = ::readdir(proc)) {
    if (entry->d_name[0] < '0' || entry->d_name[0] > '9') continue;
    std::ifstream in(std::string("/proc/") + entry->d_name + "/stat");
    std::string line;
    if (!std::getline(in, line)) continue;  // exited meanwhile
    const auto stat = ParseProcStat(line);
    if (!stat || pgids.count(stat->pgrp) == 0) continue;
    ProcessGroupUsage& u = out[stat->pgrp];
    u.cpu_seconds += stat->cpu_ticks / ticks;
    u.rss_bytes += stat->rss_pages * page;
  }
  ::closedir(proc);
  return out;
}

// ---------------------------------------------------------------- the monitor

DeviceMonitor::DeviceMonitor(std::vector<v1::Device> devices, DeviceUsageProbe& probe,
                             WorkerMetrics& metrics)
    : devices_(std::move(devices)), probe_(probe), metrics_(metrics) {}

DeviceMonitor::~DeviceMonitor() { Stop(); }

void DeviceMonitor::Start(milliseconds interval) {
  if (thread_.joinable()) return;
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = false;
  }
  thread_ = std::thread([this, interval] {
    std::unique_lock<std::mutex> lock(mu_);
    while (!stopping_) {
      lock.unlock();
      SampleOnce(steady_clock::now());
      lock.lock();
      wake_.wait_for(lock, interval, [this] { return stopping_; });
    }
  });
}

void DeviceMonitor::Stop() {
  {
    std::lock_guard<std::mutex> lock(mu_);
    stopping_ = true;
  }
  wake_.notify_all();
  if (thread_.joinable()) thread_.join();
}

void DeviceMonitor::SampleOnce(steady_clock::time_point now) {
  SampleGpus();
  SampleCpus(now);
}

void DeviceMonitor::SampleGpus() {
  bool any = false;
  for (const auto& d : devices_) any |= d.kind() == "cuda";
  if (!any) return;
  auto clear = [this] {
    for (const auto& d : devices_) {
      if (d.kind() == "cuda") metrics_.SetDeviceUsage({d.index(), {}, {}, {}});
    }
  };
  auto csv = probe_.QueryGpuUsage();
  if (!csv.ok()) {
    LOG_WARN << "device metrics: " << csv.status().message();
    metrics_.CountDeviceSampleError();
    clear();
    return;
  }
  auto gpus = ParseGpuUsage(*csv);
  if (!gpus.ok()) {
    LOG_WARN << "device metrics: " << gpus.status().message();
    metrics_.CountDeviceSampleError();
    clear();
    return;
  }
  for (const auto& d : devices_) {
    if (d.kind() != "cuda") continue;
    DeviceUsage usage{d.index(), {}, {}, {}};
    for (const auto& g : *gpus) {
      if (g.index != d.index()) continue;
      usage.utilization_ratio = g.utilization_ratio;
      usage.memory_used_bytes = g.memory_used_bytes;
      usage.memory_total_bytes = g.memory_total_bytes;
    }
    metrics_.SetDeviceUsage(usage);
  }
}

void DeviceMonitor::SampleCpus(steady_clock::time_point now) {
  bool any = false;
  for (const auto& d : devices_) any |= d.kind() == "cpu";
  if (!any) return;
  const auto trainers = metrics_.RunningTrainers();
  std::set<pid_t> pgids;
  for (const auto& [index, t] : trainers) pgids.insert(t.pgid);
  const auto groups = probe_.ProcessGroups(pgids);
  for (const auto& d : devices_) {
    if (d.kind() != "cpu") continue;
    DeviceUsage usage{d.index(), 0.0, 0.0, static_cast<double>(d.memory_bytes())};
    CpuSlot& slot = cpu_slots_[d.index()];
    auto t = trainers.find(d.index());
    if (t == trainers.end()) {
      slot = CpuSlot{};
      metrics_.SetDeviceUsage(usage);
      continue;
    }
    auto g = groups.find(t->second.pgid);
    const ProcessGroupUsage group = g == groups.end() ? ProcessGroupUsage{} : g->second;
    if (slot.pgid != t->second.pgid) {
      // A new trainer: its group started with no CPU time when it was spawned.
      slot = CpuSlot{t->second.pgid, 0.0, t->second.started};
    }
    const double wall = std::chrono::duration<double>(now - slot.at).count();
    const double threads = std::max(1, d.threads());
    if (wall > 0) {
      usage.utilization_ratio =
          std::max(0.0, group.cpu_seconds - slot.cpu_seconds) / wall / threads;
      slot.cpu_seconds = group.cpu_seconds;
      slot.at = now;
    } else {
      usage.utilization_ratio = std::nullopt;  // no time has passed: nothing to say yet
    }
    usage.memory_used_bytes = group.rss_bytes;
    metrics_.SetDeviceUsage(usage);
  }
}

}  // namespace ladder::worker
