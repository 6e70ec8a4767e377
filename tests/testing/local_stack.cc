#include "tests/testing/local_stack.h"

#include <signal.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <regex>
#include <thread>

#include "tests/testing/test_env.h"

namespace ladder::testing {

using worker::testing::ReadFile;
using worker::testing::Subprocess;

LocalStack::LocalStack(const std::string& database_url, std::vector<std::string> coordinator_flags)
    : database_url_(database_url), coordinator_flags_(std::move(coordinator_flags)) {
  StartCoordinator(0);
}

LocalStack::~LocalStack() {
  for (auto& w : workers_) {
    if (w) w->Signal(SIGKILL);
  }
  workers_.clear();
  coordinator_.reset();
}

void LocalStack::StartCoordinator(int port) {
  const std::string log =
      dir_.path() + "/coordinator-" + std::to_string(++coordinator_starts_) + ".log";
  std::vector<std::string> argv = {BinDir() + "/ladder-coordinator",
                                   "--listen=127.0.0.1:" + std::to_string(port),
                                   "--database-url=" + database_url_,
                                   "--insecure-plaintext",
                                   "--plaintext-workers",
                                   "--metrics-listen=127.0.0.1:0",
                                   "--lease-ttl=1500ms",
                                   "--heartbeat-interval=300ms",
                                   "--maintenance-interval=200ms",
                                   "--retry-backoff=0s",
                                   "--watch-poll-interval=100ms"};
  argv.insert(argv.end(), coordinator_flags_.begin(), coordinator_flags_.end());
  coordinator_ = std::make_unique<Subprocess>(argv, log, log);
  const std::regex serving("serving ladder.v1 on port ([0-9]+)");
  for (int i = 0; i < 300; ++i) {
    std::smatch m;
    const std::string text = ReadFile(log);
    if (std::regex_search(text, m, serving)) {
      port_ = std::stoi(m[1]);
      return;
    }
    if (coordinator_->Wait(std::chrono::milliseconds(0))) break;
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  }
  std::cerr << "FATAL: ladder-coordinator did not start:\n" << ReadFile(log) << "\n";
  std::abort();
}

std::string LocalStack::CoordinatorFlagValue(std::vector<std::string>& flags) const {
  std::string value = address();
  for (auto it = flags.begin(); it != flags.end();) {
    if (it->rfind("--coordinator=", 0) == 0) {
      value = it->substr(14);
      it = flags.erase(it);
    } else {
      ++it;
    }
  }
  return value;
}

int LocalStack::StartWorker(const std::string& name, int slots, const std::string& trainer,
                            std::vector<std::string> extra) {
  const std::string log = dir_.path() + "/worker-" + name + ".log";
  std::vector<std::string> argv = {
      BinDir() + "/ladder-worker",
      "--coordinator=" + CoordinatorFlagValue(extra),
      "--insecure",
      "--name=" + name,
      "--trainer=" + (trainer.empty() ? BinDir() + "/ladder-sim" : trainer),
      "--work-dir=" + dir_.path() + "/work-" + name,
      "--devices=cpu",
      "--cpu-slots=" + std::to_string(slots),
      "--threads-per-slot=1",
      "--lease-poll-interval=100ms",
      "--progress-interval=200ms",
      "--drain-grace=2s",
      "--kill-grace=1s"};
  argv.insert(argv.end(), extra.begin(), extra.end());
  workers_.push_back(std::make_unique<Subprocess>(argv, log, log));
  worker_logs_.push_back(log);
  return static_cast<int>(workers_.size()) - 1;
}

void LocalStack::SignalWorker(int index, int sig, bool wait) {
  workers_.at(index)->Signal(sig);
  if (wait) workers_.at(index)->Wait(std::chrono::seconds(30));
}

void LocalStack::KillCoordinator() {
  coordinator_->Signal(SIGKILL);
  coordinator_->Wait(std::chrono::seconds(10));
}

void LocalStack::RestartCoordinator() { StartCoordinator(port_); }

std::string LocalStack::CoordinatorLog() const {
  std::string all;
  for (int i = 1; i <= coordinator_starts_; ++i) {
    all += ReadFile(dir_.path() + "/coordinator-" + std::to_string(i) + ".log");
  }
  return all;
}

std::string LocalStack::WorkerLog(int index) const { return ReadFile(worker_logs_.at(index)); }

CliResult LocalStack::Cli(std::vector<std::string> args, int timeout_s) {
  static int n = 0;
  const std::string base = dir_.path() + "/cli-" + std::to_string(++n);
  std::vector<std::string> argv = {BinDir() + "/ladder",
                                   "--coordinator=" + CoordinatorFlagValue(args), "--insecure"};
  argv.insert(argv.end(), args.begin(), args.end());
  Subprocess p(argv, base + ".out", base + ".err");
  CliResult r;
  auto status = p.Wait(std::chrono::seconds(timeout_s));
  if (!status) {
    p.Signal(SIGKILL);
    r.exit_code = -1;
  } else {
    r.exit_code = WIFEXITED(*status) ? WEXITSTATUS(*status) : 128 + WTERMSIG(*status);
  }
  r.out = ReadFile(base + ".out");
  r.err = ReadFile(base + ".err");
  return r;
}

std::string LocalStack::WriteFile(const std::string& name, const std::string& text) const {
  const std::string path = dir() + "/" + name;
  std::ofstream(path) << text;
  return path;
}

}  // namespace ladder::testing
