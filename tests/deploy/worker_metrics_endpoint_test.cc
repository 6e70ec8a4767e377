// The real ladder-worker binary's /metrics endpoint, scraped over HTTP while
// it trains: a FakeAgent (the Agent API on a real socket) hands it runs of
// ladder-sim (a SIMULATED trainer, a real child process).
#include <arpa/inet.h>
#include <gtest/gtest.h>
#include <netinet/in.h>
#include <signal.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmath>
#include <regex>
#include <thread>

#include "tests/testing/http_get.h"
#include "worker/testing/fake_agent.h"
#include "worker/testing/test_configs.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using testing::HttpGet;
using testing::MetricValue;
using worker::testing::FakeAgent;
using worker::testing::ReadFile;
using worker::testing::SimConfigJson;
using worker::testing::SimRun;
using worker::testing::Subprocess;
using worker::testing::TempDir;

int ExitCode(const std::optional<int>& status) {
  return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

// Polls `condition` every 50 ms until it holds or `timeout` passes.
bool Eventually(const std::function<bool()>& condition, std::chrono::milliseconds timeout) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (std::chrono::steady_clock::now() < deadline) {
    if (condition()) return true;
    std::this_thread::sleep_for(50ms);
  }
  return condition();
}

class WorkerMetricsEndpointTest : public ::testing::Test {
 protected:
  WorkerMetricsEndpointTest() { agent_.Start(); }

  std::vector<std::string> Argv(std::vector<std::string> extra) const {
    std::vector<std::string> argv = {LADDER_WORKER_PATH,
                                     "--coordinator=" + agent_.address(),
                                     "--insecure",
                                     "--name=metrics-test",
                                     "--trainer=" LADDER_SIM_PATH,
                                     "--work-dir=" + dir_.path() + "/work",
                                     "--devices=cpu",
                                     "--cpu-slots=2",
                                     "--threads-per-slot=1",
                                     "--lease-poll-interval=50ms",
                                     "--progress-interval=100ms",
                                     "--retry-backoff-max=200ms",
                                     "--kill-grace=500ms",
                                     "--device-sample-interval=200ms"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  std::string log() const { return ReadFile(dir_.path() + "/worker.log"); }
  std::unique_ptr<Subprocess> StartWorker(std::vector<std::string> extra) {
    return std::make_unique<Subprocess>(Argv(std::move(extra)), dir_.path() + "/worker.log",
                                        dir_.path() + "/worker.log");
  }
  // The port from the worker's "serving /metrics on port N" line (0 if none yet).
  int MetricsPort() const {
    std::smatch m;
    const std::string text = log();
    static const std::regex serving("serving /metrics on port ([0-9]+)");
    return std::regex_search(text, m, serving) ? std::stoi(m[1]) : 0;
  }
  std::string Scrape(int port) const {
    int status = 0;
    std::string body = HttpGet("127.0.0.1", port, "/metrics", &status);
    EXPECT_EQ(status, 200) << body;
    return body;
  }

  TempDir dir_;
  FakeAgent agent_;
};

TEST_F(WorkerMetricsEndpointTest, ScrapedWhileTrainingItShowsTheRunAndForgetsItAfter) {
  SimRun run;
  run.seconds = 12;  // long enough to be seen on a loaded machine
  agent_.AddRun(1, SimConfigJson(run));
  auto worker = StartWorker({"--metrics-listen=127.0.0.1:0"});
  int port = 0;
  ASSERT_TRUE(Eventually([&] { return (port = MetricsPort()) > 0; }, 10s)) << log();

  // Devices, from the first scrape.
  std::string text = Scrape(port);
  EXPECT_EQ(MetricValue(text, "ladder_worker_devices{kind=\"cpu\"}"), 2) << text;
  EXPECT_EQ(MetricValue(text, "ladder_worker_devices{kind=\"cuda\"}"), 0);

  // While the trainer runs: its throughput under its run id, one trainer,
  // the busy slot's memory, both slots' totals.
  // The two come from different sources (the trainer's progress events; a
  // /proc sampler every --device-sample-interval), so each is awaited on its
  // own rather than both in one scrape.
  // Both slots poll for work, so either may lease the run: find its slot
  // from the run's series, then await that slot's memory sample.
  std::string busy, idle, attempt, running_text;
  bool memory_seen = false;
  ASSERT_TRUE(Eventually(
      [&] {
        text = Scrape(port);
        for (const std::string device : {"0", "1"}) {
          const std::string series = "{device=\"" + device + "\",run=\"1\",sweep=\"1\"}";
          if (MetricValue(text, "ladder_worker_attempt_tokens_per_second" + series) > 0) {
            busy = device;
            idle = device == "0" ? "1" : "0";
            attempt = series;
            running_text = text;
          }
        }
        if (!busy.empty()) {
          memory_seen |= MetricValue(text, "ladder_worker_device_memory_used_bytes{device=\"" +
                                               busy + "\",kind=\"cpu\"}") > 0;
        }
        return memory_seen;
      },
      20s))
      << "slot: " << (busy.empty() ? "none yet" : busy) << ", memory seen: " << memory_seen << "\n"
      << text << log();
  text = running_text;
  EXPECT_GT(MetricValue(text, "ladder_worker_attempt_flops_per_second" + attempt), 0);
  // ladder-sim does not know a peak FLOP/s: no MFU sample rather than a made-up one.
  EXPECT_EQ(text.find("ladder_worker_attempt_mfu_ratio{"), std::string::npos) << text;
  EXPECT_EQ(MetricValue(text, "ladder_worker_trainers_running"), 1);
  EXPECT_GT(MetricValue(text, "ladder_worker_device_memory_total_bytes{device=\"0\",kind=\"cpu\"}"),
            0);
  EXPECT_GT(MetricValue(text, "ladder_worker_device_memory_total_bytes{device=\"1\",kind=\"cpu\"}"),
            0);
  EXPECT_GE(MetricValue(text, "ladder_worker_device_utilization_ratio{device=\"" + busy +
                                  "\",kind=\"cpu\"}"),
            0);
  EXPECT_EQ(MetricValue(text, "ladder_worker_device_utilization_ratio{device=\"" + idle +
                                  "\",kind=\"cpu\"}"),
            0)
      << "an idle slot is idle";

  // The coordinator goes away: calls fail and progress piles up.
  agent_.Stop();
  ASSERT_TRUE(Eventually(
      [&] {
        text = Scrape(port);
        return MetricValue(text, "ladder_worker_progress_points_buffered") > 0 &&
               MetricValue(text,
                           "ladder_worker_rpc_errors_total{code=\"UNAVAILABLE\",method="
                           "\"ReportProgress\"}") > 0;
      },
      10s))
      << text;
  agent_.Start();

  // The run ends: its series go, the outcome is counted, the buffer empties.
  ASSERT_TRUE(agent_.WaitFor(
      [&] {
        auto a = agent_.AttemptOfRun(1);
        return a && a->finished();
      },
      40s))
      << log();
  EXPECT_TRUE(agent_.AttemptOfRun(1)->fail_reason.empty()) << agent_.AttemptOfRun(1)->fail_message;
  ASSERT_TRUE(Eventually(
      [&] {
        text = Scrape(port);
        return MetricValue(
                   text, "ladder_worker_attempts_ended_total{outcome=\"succeeded\",reason=\"\"}") ==
               1;
      },
      5s))
      << text;
  EXPECT_EQ(text.find("run=\"1\""), std::string::npos) << "a finished run leaves no series:\n"
                                                       << text;
  EXPECT_EQ(MetricValue(text, "ladder_worker_trainers_running"), 0);
  EXPECT_EQ(MetricValue(text, "ladder_worker_progress_points_buffered"), 0);
  EXPECT_TRUE(Eventually(
      [&] {
        return MetricValue(Scrape(port),
                           "ladder_worker_device_memory_used_bytes{device=\"0\",kind=\"cpu\"}") ==
               0;
      },
      5s));

  worker->Signal(SIGTERM);
  EXPECT_EQ(ExitCode(worker->Wait(10s)), 0) << log();
}

TEST_F(WorkerMetricsEndpointTest, ADivergedRunIsCountedByItsReason) {
  SimRun run;
  run.fault = "diverge";
  agent_.AddRun(1, SimConfigJson(run));
  auto worker = StartWorker({"--metrics-listen=127.0.0.1:0"});
  ASSERT_TRUE(agent_.WaitFor(
      [&] {
        auto a = agent_.AttemptOfRun(1);
        return a && a->finished();
      },
      15s))
      << log();
  const int port = MetricsPort();
  ASSERT_GT(port, 0);
  std::string text;
  EXPECT_TRUE(Eventually(
      [&] {
        text = Scrape(port);
        return MetricValue(
                   text,
                   "ladder_worker_attempts_ended_total{outcome=\"failed\",reason=\"diverged\"}") ==
               1;
      },
      5s))
      << text;
  worker->Signal(SIGTERM);
  EXPECT_EQ(ExitCode(worker->Wait(10s)), 0) << log();
}

TEST_F(WorkerMetricsEndpointTest, AnEmptyAddressTurnsMetricsOffAndTheWorkerStillTrains) {
  agent_.AddRun(1, SimConfigJson(SimRun{}));
  // An empty argument (CLI11 refuses `--metrics-listen=`, with nothing after it).
  auto worker = StartWorker({"--metrics-listen", ""});
  ASSERT_TRUE(agent_.WaitFor(
      [&] {
        auto a = agent_.AttemptOfRun(1);
        return a && a->finished();
      },
      15s))
      << log();
  EXPECT_EQ(MetricsPort(), 0) << log();
  EXPECT_EQ(log().find("/metrics"), std::string::npos) << log();
  worker->Signal(SIGTERM);
  EXPECT_EQ(ExitCode(worker->Wait(10s)), 0) << log();
}

TEST_F(WorkerMetricsEndpointTest, OffTurnsMetricsOffAndTheWorkerStillTrains) {
  agent_.AddRun(1, SimConfigJson(SimRun{}));
  auto worker = StartWorker({"--metrics-listen=off"});
  ASSERT_TRUE(agent_.WaitFor(
      [&] {
        auto a = agent_.AttemptOfRun(1);
        return a && a->finished();
      },
      15s))
      << log();
  EXPECT_EQ(MetricsPort(), 0) << log();
  EXPECT_EQ(log().find("/metrics"), std::string::npos) << log();
  worker->Signal(SIGTERM);
  EXPECT_EQ(ExitCode(worker->Wait(10s)), 0) << log();
}

TEST_F(WorkerMetricsEndpointTest, AnAddressAskedForThatIsTakenStopsTheWorker) {
  // Hold a port.
  const int fd = ::socket(AF_INET, SOCK_STREAM, 0);
  ASSERT_GE(fd, 0);
  sockaddr_in addr{};
  addr.sin_family = AF_INET;
  addr.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ASSERT_EQ(::bind(fd, reinterpret_cast<sockaddr*>(&addr), sizeof addr), 0);
  ASSERT_EQ(::listen(fd, 1), 0);
  socklen_t len = sizeof addr;
  ::getsockname(fd, reinterpret_cast<sockaddr*>(&addr), &len);
  const int taken = ntohs(addr.sin_port);

  auto worker = StartWorker({"--metrics-listen=127.0.0.1:" + std::to_string(taken)});
  EXPECT_EQ(ExitCode(worker->Wait(10s)), 1) << log();
  EXPECT_NE(log().find("--metrics-listen"), std::string::npos) << log();
  ::close(fd);
}

}  // namespace
}  // namespace ladder
