// ladder-sim as a real process: the protocol on stdout, determinism,
// checkpoint and resume, faults, SIGTERM.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <fstream>
#include <map>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/model/model_counts.h"
#include "worker/sim/sim_config.h"
#include "worker/testing/test_configs.h"
#include "worker/trainer_event.h"

namespace ladder::worker {
namespace {

using nlohmann::json;
using testing::SimRun;
using testing::Subprocess;
using testing::TempDir;

struct SimOutput {
  int status = -1;  // raw wait status
  std::vector<std::string> lines;
  std::string stderr_text;
  int exit_code() const { return WIFEXITED(status) ? WEXITSTATUS(status) : -1; }
  std::vector<json> Events(const std::string& name) const {
    std::vector<json> out;
    for (const auto& l : lines) {
      auto j = json::parse(l, nullptr, false);
      if (!j.is_discarded() && j.value("event", "") == name) out.push_back(j);
    }
    return out;
  }
};

// Runs ladder-sim on `run` in `dir` (its work dir) to the end.
SimOutput RunSim(const SimRun& run, const std::string& dir, int attempt = 1) {
  const std::string config = dir + "/config.json";
  std::ofstream(config) << testing::SimConfigJson(run, 1, attempt);
  Subprocess sim(
      {LADDER_SIM_PATH, "--config", config, "--work-dir", dir, "--device", "cpu", "--threads", "2"},
      dir + "/stdout", dir + "/stderr");
  SimOutput out;
  auto status = sim.Wait(std::chrono::seconds(20));
  EXPECT_TRUE(status.has_value()) << "ladder-sim did not finish";
  out.status = status.value_or(-1);
  out.lines = testing::ReadLines(dir + "/stdout");
  out.stderr_text = testing::ReadFile(dir + "/stderr");
  return out;
}

TEST(LadderSimTest, StdoutIsOnlyProtocolEventsFromStartedToResult) {
  TempDir dir;
  const SimOutput out = RunSim(SimRun{}, dir.path());
  EXPECT_EQ(out.exit_code(), 0) << out.stderr_text;
  ASSERT_GE(out.lines.size(), 3u);
  for (size_t i = 0; i < out.lines.size(); ++i) {
    auto event = ParseTrainerEvent(out.lines[i]);
    ASSERT_TRUE(event.ok()) << "line " << i + 1 << ": " << event.status() << ": " << out.lines[i];
    if (i == 0) EXPECT_EQ(event->name, "started");
    if (i + 1 == out.lines.size()) EXPECT_EQ(event->name, "result");
  }
  const json started = json::parse(out.lines.front());
  const json result = json::parse(out.lines.back());
  EXPECT_EQ(started["trainer"], "ladder-sim");
  EXPECT_EQ(started["simulated"], true);
  EXPECT_EQ(result["simulated"], true);
  EXPECT_EQ(result["details"]["trainer"], "ladder-sim");
  // No data.unique_tokens, no simulation.corpus_tokens: the documented
  // simulated corpus, which this run does not exhaust.
  EXPECT_EQ(result["corpus_tokens"], sim::kDefaultSimulatedCorpusTokens);
  EXPECT_EQ(result["unique_tokens"], result["tokens"]);
  EXPECT_NE(out.stderr_text.find("SIMULAT"), std::string::npos) << out.stderr_text;
  EXPECT_EQ(out.Events("progress").size(), 16u);  // 64 steps, every 4th
  EXPECT_EQ(out.Events("checkpoint").size(), 3u);
}

TEST(LadderSimTest, CountsComeFromCommonModel) {
  TempDir dir;
  const SimOutput out = RunSim(SimRun{}, dir.path());
  ASSERT_EQ(out.exit_code(), 0) << out.stderr_text;
  model::ModelShape shape;
  shape.n_layer = 2;
  shape.d_model = 64;
  shape.n_head = 2;
  shape.d_ff = 256;
  shape.context = 64;
  const auto params = model::CountParams(shape);
  const auto flops = model::ExactFlopsPerToken(shape);
  const json started = json::parse(out.lines.front());
  const json result = json::parse(out.lines.back());
  EXPECT_EQ(started["params_total"], params.total);
  EXPECT_EQ(started["params_non_embedding"], params.non_embedding);
  EXPECT_DOUBLE_EQ(started["flops_per_token"].get<double>(), flops.training);
  EXPECT_DOUBLE_EQ(result["flops"].get<double>(), flops.training * 65536);
  EXPECT_EQ(result["tokens"], 65536);
}

TEST(LadderSimTest, SameSeedGivesTheSameFinalLossAnotherSeedDoesNot) {
  TempDir a, b, c;
  SimRun run;
  run.seconds = 0;
  const SimOutput first = RunSim(run, a.path());
  const SimOutput again = RunSim(run, b.path(), /*attempt=*/2);
  run.seed = 2;
  const SimOutput other = RunSim(run, c.path());
  ASSERT_EQ(first.exit_code(), 0);
  ASSERT_EQ(again.exit_code(), 0);
  ASSERT_EQ(other.exit_code(), 0);
  const double l1 = json::parse(first.lines.back())["final_eval_loss"];
  const double l2 = json::parse(again.lines.back())["final_eval_loss"];
  const double l3 = json::parse(other.lines.back())["final_eval_loss"];
  EXPECT_EQ(l1, l2);
  EXPECT_NE(l1, l3);
  // 1% noise around the law.
  const double expected = json::parse(first.lines.back())["details"]["expected_final_eval_loss"];
  EXPECT_NEAR(l1 / expected, 1.0, 0.05);
}

TEST(LadderSimTest, CrashOnceThenResumeContinuesTheCurve) {
  TempDir reference_dir, dir;
  SimRun run;
  run.seconds = 0;
  const SimOutput reference = RunSim(run, reference_dir.path());
  ASSERT_EQ(reference.exit_code(), 0);

  run.fault = "crash_once";
  run.fault_at = 0.5;
  const SimOutput crashed = RunSim(run, dir.path(), 1);
  EXPECT_EQ(crashed.exit_code(), 3);
  EXPECT_TRUE(crashed.Events("result").empty());
  ASSERT_FALSE(crashed.Events("checkpoint").empty());
  const int64_t checkpoint_step = crashed.Events("checkpoint").back()["step"];
  EXPECT_EQ(checkpoint_step, 32);

  const SimOutput resumed = RunSim(run, dir.path(), 2);
  ASSERT_EQ(resumed.exit_code(), 0) << resumed.stderr_text;
  const json started = json::parse(resumed.lines.front());
  EXPECT_EQ(started["resumed_from_step"], checkpoint_step);
  EXPECT_EQ(started["resumed_from_tokens"], checkpoint_step * 1024);
  const auto progress = resumed.Events("progress");
  ASSERT_FALSE(progress.empty());
  EXPECT_GT(progress.front()["step"].get<int64_t>(), checkpoint_step);
  // The same curve as the uninterrupted run, point for point.
  std::map<int64_t, double> reference_loss;
  for (const auto& p : reference.Events("progress")) reference_loss[p["step"]] = p["train_loss"];
  for (const auto& p : progress) {
    EXPECT_EQ(p["train_loss"].get<double>(), reference_loss.at(p["step"].get<int64_t>()));
  }
  EXPECT_EQ(json::parse(resumed.lines.back())["final_eval_loss"],
            json::parse(reference.lines.back())["final_eval_loss"]);
}

TEST(LadderSimTest, FaultsBehaveAsDocumented) {
  {
    TempDir dir;
    SimRun run;
    run.fault = "diverge";
    const SimOutput out = RunSim(run, dir.path());
    EXPECT_EQ(out.exit_code(), 1);
    ASSERT_EQ(out.Events("error").size(), 1u);
    EXPECT_EQ(out.Events("error")[0]["kind"], "diverged");
  }
  {
    TempDir dir;
    SimRun run;
    run.fault = "bad_config";
    const SimOutput out = RunSim(run, dir.path());
    EXPECT_EQ(out.exit_code(), 2);
    ASSERT_EQ(out.lines.size(), 1u);
    EXPECT_EQ(out.Events("error")[0]["kind"], "bad_config");
  }
  {
    TempDir dir;
    SimRun run;
    run.fault = "garbage";
    const SimOutput out = RunSim(run, dir.path());
    EXPECT_EQ(out.exit_code(), 0);
    int not_json = 0;
    for (const auto& l : out.lines) not_json += json::parse(l, nullptr, false).is_discarded();
    EXPECT_EQ(not_json, 1);
  }
  {
    TempDir dir;
    SimRun run;
    run.fault = "abort";
    const SimOutput out = RunSim(run, dir.path());
    EXPECT_TRUE(WIFSIGNALED(out.status));
  }
}

TEST(LadderSimTest, SigtermWritesACheckpointAndExitsWithoutAResult) {
  TempDir dir;
  SimRun run;
  run.seconds = 10;
  run.checkpoints = 0;
  const std::string config = dir.path() + "/config.json";
  std::ofstream(config) << testing::SimConfigJson(run);
  Subprocess sim({LADDER_SIM_PATH, "--config", config, "--work-dir", dir.path(), "--device", "cpu",
                  "--threads", "1"},
                 dir.path() + "/stdout", dir.path() + "/stderr");
  std::this_thread::sleep_for(std::chrono::milliseconds(700));
  sim.Signal(SIGTERM);
  auto status = sim.Wait(std::chrono::seconds(5));
  ASSERT_TRUE(status.has_value());
  EXPECT_TRUE(WIFEXITED(*status));
  EXPECT_EQ(WEXITSTATUS(*status), 143);
  const auto lines = testing::ReadLines(dir.path() + "/stdout");
  ASSERT_FALSE(lines.empty());
  EXPECT_EQ(json::parse(lines.back())["event"], "checkpoint");
}

}  // namespace
}  // namespace ladder::worker
