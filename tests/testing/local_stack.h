// Real processes for end-to-end tests: ladder-coordinator (plaintext on
// loopback, short test timings) over a test database, ladder-worker daemons
// with a trainer (ladder-sim by default: SIMULATED), and the ladder CLI.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <vector>

#include "worker/testing/test_configs.h"

namespace ladder::testing {

struct CliResult {
  int exit_code = -1;
  std::string out;
  std::string err;
};

class LocalStack {
 public:
  // Starts a coordinator on `database_url`. Extra coordinator flags may be given.
  explicit LocalStack(const std::string& database_url,
                      std::vector<std::string> coordinator_flags = {});
  ~LocalStack();

  // Starts a worker daemon named `name` with `slots` CPU slots running
  // `trainer` (default: ladder-sim at --time-scale 1). Returns its index.
  // A "--coordinator=..." in `extra_flags` replaces this stack's address
  // (say, a list of several coordinators); so it does in Cli's `args`.
  int StartWorker(const std::string& name, int slots = 1, const std::string& trainer = "",
                  std::vector<std::string> extra_flags = {});
  // Sends `sig` to worker `index`, and waits for it to exit if `wait`.
  void SignalWorker(int index, int sig, bool wait = true);
  // SIGKILLs the coordinator; RestartCoordinator brings it back on the same port.
  void KillCoordinator();
  void RestartCoordinator();

  // Runs the CLI against this coordinator; waits up to `timeout_s`.
  CliResult Cli(std::vector<std::string> args, int timeout_s = 120);

  std::string address() const { return "127.0.0.1:" + std::to_string(port_); }
  int port() const { return port_; }
  const std::string& dir() const { return dir_.path(); }
  // Writes `text` to dir()/name (a sweep file, a CSV to import); its path.
  std::string WriteFile(const std::string& name, const std::string& text) const;
  // The coordinator's log so far (for assertions on what it logged).
  std::string CoordinatorLog() const;
  // Worker `index`'s log so far.
  std::string WorkerLog(int index) const;

 private:
  void StartCoordinator(int port);
  // address(), or the value of a "--coordinator=" in `flags` (removed from them).
  std::string CoordinatorFlagValue(std::vector<std::string>& flags) const;

  std::string database_url_;
  std::vector<std::string> coordinator_flags_;
  worker::testing::TempDir dir_;
  int port_ = 0;
  int coordinator_starts_ = 0;
  std::unique_ptr<worker::testing::Subprocess> coordinator_;
  std::vector<std::unique_ptr<worker::testing::Subprocess>> workers_;
  std::vector<std::string> worker_logs_;
};

}  // namespace ladder::testing
