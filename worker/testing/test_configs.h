// Run configurations and child processes for the worker's tests.
#pragma once

#include <sys/types.h>

#include <chrono>
#include <cstdint>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <vector>

namespace ladder::worker::testing {

// A small ladder-sim run: 64 steps of 1024 tokens by default.
struct SimRun {
  std::string family = "transformer";
  int64_t tokens = 65536;
  int64_t batch_tokens = 1024;
  int64_t log_interval_steps = 4;
  int64_t seed = 1;
  double seconds = 0.2;  // wall time of the whole run
  double noise = 0.01;
  std::string fault;  // "" or a ladder-sim fault
  double fault_at = 0.5;
  int checkpoints = 4;
};
// The run configuration JSON (TRAINER_PROTOCOL.md) for `run`.
std::string SimConfigJson(const SimRun& run, int64_t run_id = 1, int attempt = 1);

// A fresh empty directory under $TMPDIR, removed by the destructor.
class TempDir {
 public:
  TempDir();
  ~TempDir();
  const std::string& path() const { return path_; }

 private:
  std::string path_;
};

std::string ReadFile(const std::string& path);
std::vector<std::string> ReadLines(const std::string& path);

// A child process with stdout and stderr in files (not Boost.Process: the
// tests of the launcher must not share its machinery).
class Subprocess {
 public:
  // argv[0] is the program's path. `env` is added to this process's environment.
  Subprocess(const std::vector<std::string>& argv, const std::string& stdout_path,
             const std::string& stderr_path, const std::map<std::string, std::string>& env = {});
  // SIGKILLs and reaps the child if it is still running.
  ~Subprocess();
  pid_t pid() const { return pid_; }
  void Signal(int sig);
  // The raw wait status, or nullopt if the child is still running after `timeout`.
  std::optional<int> Wait(std::chrono::milliseconds timeout);

 private:
  pid_t pid_ = -1;
  std::optional<int> status_;
};

}  // namespace ladder::worker::testing
