#include "worker/testing/worker_harness.h"

#include <unistd.h>

#include <boost/asio/post.hpp>
#include <stdexcept>

#include "common/channel_options.h"

namespace ladder::worker::testing {

using std::chrono::milliseconds;

WorkerHarness::WorkerHarness(const FakeAgent& agent, const std::string& trainer, int cpu_slots,
                             const std::function<void(WorkerOptions&)>& tweak)
    : work_(io_.get_executor()) {
  options_.coordinator.address = agent.address();
  options_.coordinator.insecure = true;
  options_.coordinator.max_reconnect_backoff = milliseconds(200);
  options_.name = "test-worker";
  options_.hostname = "test-host";
  options_.trainer = trainer;
  options_.work_dir = dir_.path();
  options_.cpu_slots = cpu_slots;
  options_.threads_per_slot = 1;
  options_.trainer_silence_timeout = milliseconds(3000);
  options_.drain_grace = milliseconds(5000);
  options_.kill_grace = milliseconds(300);
  options_.lease_poll_interval = milliseconds(50);
  options_.rpc_timeout = milliseconds(2000);
  options_.progress_interval = milliseconds(100);
  options_.retry_backoff_max = milliseconds(200);
  options_.drain_report_timeout = milliseconds(2000);
  if (tweak) tweak(options_);
  if (absl::Status s = ValidateWorkerOptions(options_); !s.ok()) {
    throw std::runtime_error(std::string(s.message()));
  }
  std::vector<v1::Device> devices;
  for (int i = 0; i < options_.cpu_slots; ++i) {
    v1::Device d;
    d.set_index(i);
    d.set_kind("cpu");
    d.set_model("test cpu");
    d.set_memory_bytes(1LL << 30);
    d.set_threads(options_.threads_per_slot);
    devices.push_back(d);
  }
  auto channel = MakeChannel(options_.coordinator);
  if (!channel.ok()) throw std::runtime_error(std::string(channel.status().message()));
  agent_client_ = std::make_unique<AgentClient>(io_, *channel, options_.rpc_timeout);
  launcher_ = std::make_unique<ProcessTrainerLauncher>(io_);
  daemon_ = std::make_unique<WorkerDaemon>(io_, options_, devices, *agent_client_, *launcher_);
  thread_ = std::thread([this] { io_.run(); });
  boost::asio::post(io_, [this] { daemon_->Start([this](int code) { exit_code_ = code; }); });
}

WorkerHarness::~WorkerHarness() {
  if (exit_code_ < 0) {
    RequestDrain();
    RequestDrain();
    WaitExit(milliseconds(10000));
  }
  work_.reset();
  io_.stop();
  thread_.join();
}

void WorkerHarness::RequestDrain() {
  boost::asio::post(io_, [this] { daemon_->RequestDrain("test"); });
}

std::optional<int> WorkerHarness::WaitExit(milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (exit_code_ < 0) {
    if (std::chrono::steady_clock::now() >= deadline) return std::nullopt;
    std::this_thread::sleep_for(milliseconds(5));
  }
  return exit_code_.load();
}

}  // namespace ladder::worker::testing
