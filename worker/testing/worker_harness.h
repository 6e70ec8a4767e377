// An in-process WorkerDaemon on its own io_context thread, wired to a
// FakeAgent over a real socket and to real trainer processes, with settings
// short enough for tests.
#pragma once

#include <atomic>
#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/io_context.hpp>
#include <functional>
#include <memory>
#include <optional>
#include <thread>

#include "worker/agent_client.h"
#include "worker/process_trainer_launcher.h"
#include "worker/testing/fake_agent.h"
#include "worker/testing/test_configs.h"
#include "worker/worker_daemon.h"
#include "worker/worker_options.h"

namespace ladder::worker::testing {

class WorkerHarness {
 public:
  // Starts the daemon at once. `tweak` may change the options first.
  WorkerHarness(const FakeAgent& agent, const std::string& trainer, int cpu_slots = 1,
                const std::function<void(WorkerOptions&)>& tweak = {});
  // Drains (twice, so trainers stop now), waits for the exit, stops the loop.
  ~WorkerHarness();

  // As SIGTERM would.
  void RequestDrain();
  // The daemon's exit code once it exited, else nullopt after `timeout`.
  std::optional<int> WaitExit(std::chrono::milliseconds timeout);
  const WorkerOptions& options() const { return options_; }
  std::string run_dir(int64_t run_id) const {
    return options_.work_dir + "/runs/" + std::to_string(run_id);
  }

 private:
  TempDir dir_;
  boost::asio::io_context io_;
  WorkerOptions options_;
  std::unique_ptr<AgentClient> agent_client_;
  std::unique_ptr<ProcessTrainerLauncher> launcher_;
  std::unique_ptr<WorkerDaemon> daemon_;
  boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work_;
  std::atomic<int> exit_code_{-1};
  std::thread thread_;
};

}  // namespace ladder::worker::testing
