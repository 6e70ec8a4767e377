// The worker daemon in-process against a FakeAgent on a real socket, with
// the real ladder-sim as its trainer.
#include "worker/worker_daemon.h"

#include <gtest/gtest.h>

#include <filesystem>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/logging.h"
#include "worker/testing/fake_agent.h"
#include "worker/testing/test_configs.h"
#include "worker/testing/worker_harness.h"

namespace ladder::worker {
namespace {

using namespace std::chrono_literals;
using nlohmann::json;
using testing::FakeAgent;
using testing::SimConfigJson;
using testing::SimRun;
using testing::WorkerHarness;

class WorkerDaemonTest : public ::testing::Test {
 protected:
  WorkerDaemonTest() { agent_.Start(); }

  // Waits until attempt `number` of `run_id` is reported, and returns it.
  FakeAgent::AttemptRecord Finished(int64_t run_id, int number = 1,
                                    std::chrono::milliseconds timeout = 15s) {
    const bool ok = agent_.WaitFor(
        [&] {
          auto a = agent_.AttemptOfRun(run_id, number);
          return a && a->finished();
        },
        timeout);
    EXPECT_TRUE(ok) << "run " << run_id << " attempt " << number << " was not reported";
    return agent_.AttemptOfRun(run_id, number).value_or(FakeAgent::AttemptRecord{});
  }

  // Waits until the trainer's `started` event reached the agent.
  FakeAgent::AttemptRecord Started(int64_t run_id, int number = 1) {
    EXPECT_TRUE(agent_.WaitFor(
        [&] {
          auto a = agent_.AttemptOfRun(run_id, number);
          return a && !a->started_json.empty();
        },
        10s));
    return agent_.AttemptOfRun(run_id, number).value_or(FakeAgent::AttemptRecord{});
  }

  FakeAgent agent_;
};

SimRun Fault(const std::string& fault) {
  SimRun run;
  run.fault = fault;
  return run;
}

TEST_F(WorkerDaemonTest, ASuccessfulRunIsCompletedWithItsResult) {
  agent_.AddRun(1, SimConfigJson(SimRun{}));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  const auto a = Finished(1);
  EXPECT_TRUE(a.fail_reason.empty()) << a.fail_reason << ": " << a.fail_message;
  ASSERT_FALSE(a.result_json.empty());
  const json result = json::parse(a.result_json);
  EXPECT_EQ(result["event"], "result");
  EXPECT_EQ(result["simulated"], true);
  EXPECT_GT(result["final_eval_loss"].get<double>(), 0);
  EXPECT_EQ(json::parse(a.started_json)["event"], "started");
  EXPECT_EQ(a.points.size(), 16u);  // every progress event, in order
  for (size_t i = 1; i < a.points.size(); ++i)
    EXPECT_GT(a.points[i].step(), a.points[i - 1].step());
  EXPECT_TRUE(a.points.back().has_eval_loss());
  EXPECT_EQ(a.complete_calls, 1);
  // The run directory keeps the config and the log, not the checkpoint.
  const std::string dir = worker.run_dir(1);
  EXPECT_TRUE(std::filesystem::exists(dir + "/config.json"));
  EXPECT_TRUE(std::filesystem::exists(dir + "/attempt-1.log"));
  // (Cleaned after the worker saw CompleteAttempt's reply, a moment after the fake recorded it.)
  EXPECT_TRUE(
      agent_.WaitFor([&] { return !std::filesystem::exists(dir + "/sim-checkpoint.json"); }, 2s));
  EXPECT_EQ(json::parse(testing::ReadFile(dir + "/config.json"))["attempt"], 1);
}

TEST_F(WorkerDaemonTest, HeartbeatsCarryTheLiveAttempt) {
  SimRun slow;
  slow.seconds = 2;
  agent_.AddRun(1, SimConfigJson(slow));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  const auto a = Started(1);
  EXPECT_TRUE(agent_.WaitFor(
      [&] { return agent_.LastHeartbeatAttempts() == std::vector<int64_t>{a.attempt_id}; }, 2s));
  EXPECT_EQ(agent_.registrations(), 1);
}

TEST_F(WorkerDaemonTest, ACrashIsReportedAsCrashed) {
  agent_.AddRun(1, SimConfigJson(Fault("crash")));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  const auto a = Finished(1);
  EXPECT_EQ(a.fail_reason, "crashed");
  EXPECT_EQ(a.fail_message.rfind("exit code 3", 0), 0u) << a.fail_message;
  EXPECT_NE(a.fail_message.find("simulated crash"), std::string::npos) << a.fail_message;
  EXPECT_FALSE(a.points.empty());  // the curve up to the crash was delivered
}

TEST_F(WorkerDaemonTest, DeathBySignalIsReportedAsCrashed) {
  agent_.AddRun(1, SimConfigJson(Fault("abort")));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  const auto a = Finished(1);
  EXPECT_EQ(a.fail_reason, "crashed");
  EXPECT_EQ(a.fail_message.rfind("killed by signal 6 (SIGABRT)", 0), 0u) << a.fail_message;
}

TEST_F(WorkerDaemonTest, GarbageOnStdoutIsAProtocolError) {
  agent_.AddRun(1, SimConfigJson(Fault("garbage")));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  const auto a = Finished(1);
  EXPECT_EQ(a.fail_reason, "protocol_error");
  EXPECT_EQ(a.fail_message.rfind("stdout line ", 0), 0u) << a.fail_message;
  EXPECT_NE(a.fail_message.find("not JSON"), std::string::npos) << a.fail_message;
  EXPECT_NE(a.fail_message.find("simulated garbage"), std::string::npos) << a.fail_message;
  EXPECT_TRUE(a.result_json.empty());
}

TEST_F(WorkerDaemonTest, ASilentTrainerIsKilledAndTimedOut) {
  agent_.AddRun(1, SimConfigJson(Fault("hang")));
  WorkerHarness worker(agent_, LADDER_SIM_PATH, 1,
                       [](WorkerOptions& o) { o.trainer_silence_timeout = 400ms; });
  const auto start = std::chrono::steady_clock::now();
  const auto a = Finished(1);
  EXPECT_EQ(a.fail_reason, "timeout");
  EXPECT_EQ(a.fail_message, "no output on stdout for 400ms");
  // The hang ignores SIGTERM: it took SIGKILL after the kill grace.
  EXPECT_GE(std::chrono::steady_clock::now() - start, 700ms);
}

TEST_F(WorkerDaemonTest, DivergenceIsReportedWithItsKind) {
  agent_.AddRun(1, SimConfigJson(Fault("diverge")));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  const auto a = Finished(1);
  EXPECT_EQ(a.fail_reason, "diverged");
  EXPECT_NE(a.fail_message.find("simulated divergence"), std::string::npos) << a.fail_message;
}

TEST_F(WorkerDaemonTest, TrainerBadConfigIsReportedAsBadConfig) {
  agent_.AddRun(1, SimConfigJson(Fault("bad_config")));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  EXPECT_EQ(Finished(1).fail_reason, "bad_config");
}

TEST_F(WorkerDaemonTest, ALeaseWhoseConfigIsNotJsonFailsWithoutATrainer) {
  agent_.AddRun(1, "{not json");
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  const auto a = Finished(1);
  EXPECT_EQ(a.fail_reason, "bad_config");
  EXPECT_FALSE(std::filesystem::exists(worker.run_dir(1) + "/attempt-1.log"));
}

TEST_F(WorkerDaemonTest, ARevokedLeaseKillsTheTrainerAndReportsNothing) {
  SimRun slow;
  slow.seconds = 30;
  agent_.AddRun(1, SimConfigJson(slow));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  const auto a = Started(1);
  agent_.RevokeAttempt(a.attempt_id);
  const std::string log = worker.run_dir(1) + "/attempt-1.log";
  EXPECT_TRUE(agent_.WaitFor(
      [&] { return testing::ReadFile(log).find("SIGTERM") != std::string::npos; }, 5s))
      << testing::ReadFile(log);
  EXPECT_TRUE(agent_.WaitFor([&] { return agent_.LastHeartbeatAttempts().empty(); }, 3s));
  const auto after = agent_.AttemptOfRun(1).value();
  EXPECT_EQ(after.complete_calls, 0);
  EXPECT_EQ(after.fail_calls, 0);
}

TEST_F(WorkerDaemonTest, DrainReleasesTheRunningAttemptAndExitsZero) {
  SimRun slow;
  slow.seconds = 30;
  agent_.AddRun(1, SimConfigJson(slow));
  agent_.AddRun(2, SimConfigJson(SimRun{}));
  WorkerHarness worker(agent_, LADDER_SIM_PATH, 1, [](WorkerOptions& o) { o.drain_grace = 300ms; });
  Started(1);
  worker.RequestDrain();
  EXPECT_EQ(worker.WaitExit(5s), 0);
  const auto a = agent_.AttemptOfRun(1).value();
  EXPECT_EQ(a.fail_reason, "drained");
  EXPECT_EQ(agent_.queued_runs(), 2);  // run 2 never leased; run 1 re-queued
  // The trainer checkpointed on SIGTERM, for the next attempt to resume.
  EXPECT_TRUE(std::filesystem::exists(worker.run_dir(1) + "/sim-checkpoint.json"));
}

TEST_F(WorkerDaemonTest, ARunThatFinishesWithinTheDrainGraceIsCompleted) {
  SimRun run;
  run.seconds = 0.6;
  agent_.AddRun(1, SimConfigJson(run));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  Started(1);
  worker.RequestDrain();
  EXPECT_EQ(worker.WaitExit(5s), 0);
  EXPECT_FALSE(agent_.AttemptOfRun(1)->result_json.empty());
}

TEST_F(WorkerDaemonTest, TheWorkerKeepsItsTrainerThroughACoordinatorRestart) {
  SimRun run;
  run.seconds = 1.0;
  agent_.AddRun(1, SimConfigJson(run));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  Started(1);
  agent_.Stop();
  std::this_thread::sleep_for(1500ms);  // the trainer finishes while the coordinator is down
  const int heartbeats_before = agent_.heartbeats();
  agent_.Start();
  const auto a = Finished(1);
  EXPECT_FALSE(a.result_json.empty()) << a.fail_reason << ": " << a.fail_message;
  EXPECT_EQ(a.points.size(), 16u);  // buffered while the coordinator was away
  EXPECT_TRUE(agent_.WaitFor([&] { return agent_.heartbeats() > heartbeats_before; }, 3s));
  EXPECT_EQ(agent_.registrations(), 1);
}

TEST_F(WorkerDaemonTest, AWorkerStartedBeforeTheCoordinatorRegistersWhenItComes) {
  agent_.Stop();
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  std::this_thread::sleep_for(500ms);
  agent_.AddRun(1, SimConfigJson(SimRun{}));
  agent_.Start();
  EXPECT_FALSE(Finished(1).result_json.empty());
  EXPECT_EQ(agent_.registrations(), 1);
}

TEST_F(WorkerDaemonTest, AWorkerTheCoordinatorForgotRegistersAgainAndCarriesOn) {
  SimRun run;
  run.seconds = 1.0;
  agent_.AddRun(1, SimConfigJson(run));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  Started(1);
  agent_.ForgetWorkers();
  EXPECT_TRUE(agent_.WaitFor([&] { return agent_.registrations() == 2; }, 3s));
  EXPECT_FALSE(Finished(1).result_json.empty());  // the trainer was not disturbed
  agent_.AddRun(2, SimConfigJson(SimRun{}));
  EXPECT_FALSE(Finished(2).result_json.empty());  // and leasing resumed
}

TEST_F(WorkerDaemonTest, CompletionIsRetriedAfterUnavailable) {
  agent_.FailNextCompletes(3, grpc::StatusCode::UNAVAILABLE);
  agent_.AddRun(1, SimConfigJson(SimRun{}));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  const auto a = Finished(1);
  EXPECT_FALSE(a.result_json.empty());
  EXPECT_EQ(a.complete_calls, 4);
}

TEST_F(WorkerDaemonTest, ARefusedCompletionFailsTheAttemptWithTheReason) {
  agent_.FailNextCompletes(1, grpc::StatusCode::INVALID_ARGUMENT);
  agent_.AddRun(1, SimConfigJson(SimRun{}));
  agent_.AddRun(2, SimConfigJson(SimRun{}));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  Finished(2);  // the worker moved on
  const auto a = agent_.AttemptOfRun(1).value();
  EXPECT_EQ(a.complete_calls, 1) << "a result judged bad is not sent again";
  EXPECT_TRUE(a.result_json.empty());
  EXPECT_EQ(a.fail_reason, "bad_result") << "not left to expire silently";
  EXPECT_NE(a.fail_message.find("INVALID_ARGUMENT"), std::string::npos) << a.fail_message;
}

TEST_F(WorkerDaemonTest, AResultTheCoordinatorCannotStoreIsRetriedThenFailedWithTheReason) {
  agent_.FailNextCompletes(100, grpc::StatusCode::INTERNAL);
  agent_.AddRun(1, SimConfigJson(SimRun{}));
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  const auto a = Finished(1);
  EXPECT_EQ(a.complete_calls, 5);
  EXPECT_EQ(a.fail_reason, "internal");
  EXPECT_NE(a.fail_message.find("INTERNAL"), std::string::npos) << a.fail_message;
}

TEST_F(WorkerDaemonTest, ACrashOnceRunIsRetriedAndResumesFromItsCheckpoint) {
  agent_.AddRun(1, SimConfigJson(Fault("crash_once")), /*max_attempts=*/2);
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  EXPECT_EQ(Finished(1, 1).fail_reason, "crashed");
  const auto second = Finished(1, 2);
  ASSERT_FALSE(second.result_json.empty()) << second.fail_reason << ": " << second.fail_message;
  EXPECT_EQ(json::parse(second.started_json)["resumed_from_step"], 32);
  EXPECT_GT(second.points.front().step(), 32);
}

TEST_F(WorkerDaemonTest, AnOperatorDrainStopsLeasingUntilLifted) {
  agent_.SetDrain(true);
  WorkerHarness worker(agent_, LADDER_SIM_PATH);
  EXPECT_TRUE(agent_.WaitFor([&] { return agent_.heartbeats() >= 2; }, 3s));
  agent_.AddRun(1, SimConfigJson(SimRun{}));
  std::this_thread::sleep_for(300ms);
  EXPECT_EQ(agent_.queued_runs(), 1);
  agent_.SetDrain(false);
  EXPECT_FALSE(Finished(1).result_json.empty());
  EXPECT_FALSE(worker.WaitExit(10ms).has_value());  // still up
}

TEST_F(WorkerDaemonTest, AWorkerLeasesAllItsFreeDevicesInOneCall) {
  constexpr int kSlots = 4;
  for (int i = 1; i <= kSlots; ++i) agent_.AddRun(i, SimConfigJson(SimRun{}, i));
  WorkerHarness worker(agent_, LADDER_SIM_PATH, kSlots);
  for (int i = 1; i <= kSlots; ++i) {
    const auto a = Finished(i);
    EXPECT_FALSE(a.result_json.empty()) << "run " << i << ": " << a.fail_message;
  }
  EXPECT_EQ(agent_.max_devices_per_lease(), kSlots)
      << "the first call after registration asks for every device at once";
}

TEST_F(WorkerDaemonTest, ThroughputOfSimulatedRuns) {
  constexpr int kRuns = 120;
  constexpr int kSlots = 4;
  SimRun instant;
  instant.seconds = 0;
  for (int i = 1; i <= kRuns; ++i) agent_.AddRun(i, SimConfigJson(instant, i));
  const auto start = std::chrono::steady_clock::now();
  WorkerHarness worker(agent_, LADDER_SIM_PATH, kSlots, [](WorkerOptions& o) {
    o.lease_poll_interval = 1000ms;  // no idle polling: every lease is granted at once
  });
  for (int i = 1; i <= kRuns; ++i) {
    const auto a = Finished(i, 1, 30s);
    ASSERT_FALSE(a.result_json.empty()) << "run " << i << ": " << a.fail_message;
  }
  const double seconds =
      std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  const double rate = kRuns / seconds;
  std::printf("[ THROUGHPUT ] %d simulated runs on %d slots in %.2f s: %.1f runs/s\n", kRuns,
              kSlots, seconds, rate);
  ::testing::Test::RecordProperty("runs_per_second", std::to_string(rate));
  EXPECT_GT(rate, 5.0);
}

}  // namespace
}  // namespace ladder::worker
