// End to end with real processes: ladder-coordinator, ladder-worker daemons
// running ladder-sim (a SIMULATED trainer), the ladder CLI, and PostgreSQL.
#include <gtest/gtest.h>
#include <signal.h>

#include <cmath>
#include <fstream>
#include <nlohmann/json.hpp>
#include <thread>

#include "tests/testing/local_stack.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_env.h"

namespace ladder {
namespace {

using testing::CliResult;
using testing::LocalStack;
using namespace std::chrono_literals;

// A small LSTM-vs-Transformer grid, each run a SIMULATED `seconds` long.
std::string SimSweep(const std::string& name, int sizes, double seconds,
                     const std::string& extra = "") {
  std::string params;
  for (int i = 0; i < sizes; ++i)
    params += (i ? ", " : "") + std::to_string(static_cast<int>(3e4 * (1 << i)));
  return "name: " + name +
         "\nkind: grid\nfamilies: [transformer, lstm]\nmax_attempts: 3\n"
         "train: {batch_tokens: 4096}\n"
         "grid: {params: [" +
         params +
         "], tokens: [409600]}\n"
         "simulation: {seconds: " +
         std::to_string(seconds) + extra + "}\n";
}

int64_t Submit(LocalStack& stack, const std::string& yaml) {
  CliResult r = stack.Cli({"submit", stack.WriteFile("sweep.yaml", yaml)});
  EXPECT_EQ(r.exit_code, 0) << r.err;
  return std::atoll(r.out.c_str());
}

class EndToEndTest : public ::testing::Test {
 protected:
  testing::TestDatabase db_;
};

TEST_F(EndToEndTest, SweepRunsEndToEndThroughTheCli) {
  LocalStack stack(db_.url());
  stack.StartWorker("w1", 2);
  const int64_t sweep = Submit(stack, SimSweep("e2e", 2, 0.5));
  ASSERT_GT(sweep, 0);

  CliResult watch = stack.Cli({"watch", std::to_string(sweep)});
  EXPECT_EQ(watch.exit_code, 0) << watch.err;
  EXPECT_NE(watch.out.find("succeeded"), std::string::npos) << watch.out;
  EXPECT_NE(watch.out.find("(SIMULATED)"), std::string::npos) << "simulated runs must say so:\n"
                                                              << watch.out;

  CliResult runs = stack.Cli({"--json", "runs", std::to_string(sweep)});
  ASSERT_EQ(runs.exit_code, 0) << runs.err;
  auto j = nlohmann::json::parse(runs.out);
  ASSERT_EQ(j["runs"].size(), 4u);
  for (const auto& r : j["runs"]) {
    EXPECT_EQ(r["state"], "RUN_STATE_SUCCEEDED");
    EXPECT_EQ(r["trainer"], "ladder-sim");
    EXPECT_EQ(r["simulated"], true);
    EXPECT_GT(r["final_eval_loss"].get<double>(), 0.5);
  }
  // Exactly one succeeded attempt per run, and the curves were stored.
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome = 'succeeded'"), "4");
  EXPECT_EQ(db_.Query("SELECT count(DISTINCT run_id) FROM curve_points"), "4");

  const std::string csv = stack.dir() + "/export.csv";
  CliResult exp = stack.Cli({"export", std::to_string(sweep), "--format", "csv", "-o", csv});
  ASSERT_EQ(exp.exit_code, 0) << exp.err;
  std::ifstream in(csv);
  std::string line;
  int lines = 0;
  while (std::getline(in, line)) ++lines;
  EXPECT_EQ(lines, 5) << "header + 4 runs";

  CliResult status = stack.Cli({"status", std::to_string(sweep)});
  EXPECT_EQ(status.exit_code, 0);
  EXPECT_NE(status.out.find("succeeded"), std::string::npos) << status.out;
}

TEST_F(EndToEndTest, KilledWorkerMidRunStillEndsWithExactlyOneResultPerRun) {
  LocalStack stack(db_.url());
  const int doomed = stack.StartWorker("doomed", 2);
  const int64_t sweep = Submit(stack, SimSweep("kill", 2, 3.0));
  // Let the doomed worker take two runs and start them, then kill it outright.
  for (int i = 0; i < 100 && db_.Query("SELECT count(*) FROM runs WHERE state = 'running'") != "2";
       ++i) {
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(db_.Query("SELECT count(*) FROM runs WHERE state = 'running'"), "2");
  stack.SignalWorker(doomed, SIGKILL);
  stack.StartWorker("survivor", 2);
  CliResult watch = stack.Cli({"watch", std::to_string(sweep)}, 180);
  EXPECT_EQ(watch.exit_code, 0) << watch.out << watch.err;
  EXPECT_EQ(db_.Query("SELECT count(*) FROM runs WHERE state = 'succeeded'"), "4");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome = 'succeeded'"), "4");
  EXPECT_EQ(
      db_.Query("SELECT count(*) FROM (SELECT run_id FROM attempts WHERE outcome = 'succeeded' "
                "GROUP BY run_id HAVING count(*) > 1) d"),
      "0");
  EXPECT_EQ(db_.Query("SELECT count(*) >= 2 FROM attempts WHERE outcome = 'expired'"), "t");
}

TEST_F(EndToEndTest, MalformedTrainerOutputFailsTheAttemptWithAReason) {
  LocalStack stack(db_.url());
  stack.StartWorker("w1", 1);
  const int64_t sweep = Submit(stack,
                               "name: garbage\nkind: grid\nfamilies: [lstm]\nmax_attempts: 2\n"
                               "grid: {params: [3e4], tokens: [409600]}\n"
                               "simulation: {seconds: 0.3, fault: garbage}\n");
  CliResult watch = stack.Cli({"watch", std::to_string(sweep)});
  EXPECT_EQ(watch.exit_code, 1) << "a failed sweep ends watch with exit 1";
  EXPECT_EQ(db_.Query("SELECT state FROM sweeps"), "failed");
  EXPECT_EQ(db_.Query("SELECT string_agg(reason, ',') FROM attempts"),
            "protocol_error,protocol_error");
  const std::string error = db_.Query("SELECT last_error FROM runs");
  EXPECT_NE(error.find("protocol_error"), std::string::npos) << error;
  EXPECT_NE(error.find("line"), std::string::npos)
      << "the reason names the offending line: " << error;
}

TEST_F(EndToEndTest, CrashedTrainerIsRetriedAndResumesItsCurve) {
  LocalStack stack(db_.url());
  stack.StartWorker("w1", 1);
  const int64_t sweep = Submit(stack,
                               "name: crash\nkind: grid\nfamilies: [transformer]\nmax_attempts: 3\n"
                               "grid: {params: [3e4], tokens: [409600]}\n"
                               "simulation: {seconds: 1.0, fault: crash_once, fault_at: 0.6}\n");
  CliResult watch = stack.Cli({"watch", std::to_string(sweep)});
  EXPECT_EQ(watch.exit_code, 0) << watch.out << watch.err;
  EXPECT_EQ(db_.Query("SELECT string_agg(outcome || ':' || COALESCE(reason, ''), ',' ORDER BY "
                      "number) FROM attempts"),
            "failed:crashed,succeeded:");
  // The second attempt resumed from a checkpoint: the curve has no gap, and
  // some of its points came from the first attempt.
  const std::string steps =
      db_.Query("SELECT (max(step) - min(step)) = (count(*) - 1) * min(step) FROM curve_points");
  EXPECT_EQ(db_.Query("SELECT count(DISTINCT attempt_id) FROM curve_points"), "2");
  const int points = std::stoi(db_.Query("SELECT count(*) FROM curve_points"));
  const int distinct_steps = std::stoi(db_.Query("SELECT count(DISTINCT step) FROM curve_points"));
  EXPECT_EQ(points, distinct_steps);
  EXPECT_EQ(db_.Query("SELECT bool_and(tokens > 0) FROM curve_points"), "t");
  (void)steps;
}

TEST_F(EndToEndTest, CoordinatorKilledAndRestartedMidSweepLosesNothing) {
  LocalStack stack(db_.url());
  stack.StartWorker("w1", 2);
  const int64_t sweep = Submit(stack, SimSweep("restart", 3, 1.5));
  for (int i = 0;
       i < 200 && db_.Query("SELECT count(*) FROM runs WHERE state = 'succeeded'") == "0"; ++i) {
    std::this_thread::sleep_for(100ms);
  }
  const int before = std::stoi(db_.Query("SELECT count(*) FROM runs WHERE state = 'succeeded'"));
  ASSERT_GT(before, 0);
  stack.KillCoordinator();
  std::this_thread::sleep_for(2s);  // the workers keep training and buffer their reports
  stack.RestartCoordinator();
  CliResult watch = stack.Cli({"watch", std::to_string(sweep)}, 180);
  EXPECT_EQ(watch.exit_code, 0) << watch.out << watch.err;
  EXPECT_EQ(db_.Query("SELECT count(*) FROM runs WHERE state = 'succeeded'"), "6");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome = 'succeeded'"), "6");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM runs WHERE final_eval_loss IS NULL"), "0");
}

TEST_F(EndToEndTest, DrainedWorkerReleasesItsRunAndExitsCleanly) {
  LocalStack stack(db_.url());
  const int w = stack.StartWorker("w1", 1);
  const int64_t sweep = Submit(stack, SimSweep("drain", 1, 20.0));
  for (int i = 0; i < 100 && db_.Query("SELECT count(*) FROM runs WHERE state = 'running'") != "1";
       ++i) {
    std::this_thread::sleep_for(100ms);
  }
  stack.SignalWorker(w, SIGTERM);  // drain grace 2 s < 20 s run: the run is released
  EXPECT_EQ(db_.Query("SELECT string_agg(outcome || ':' || reason, ',') FROM attempts"),
            "released:drained");
  // Both runs wait in the queue again, the released one without a failure counted.
  EXPECT_EQ(db_.Query("SELECT count(*) FROM runs WHERE state = 'queued' AND failures = 0"), "2");
  CliResult cancel = stack.Cli({"cancel", std::to_string(sweep)});
  EXPECT_EQ(cancel.exit_code, 0) << cancel.err;
}

TEST_F(EndToEndTest, CliRefusesBadInputWithOneLineAndAnExitCode) {
  LocalStack stack(db_.url());
  CliResult bad = stack.Cli(
      {"submit", stack.WriteFile("bad.yaml", "name: x\nkind: ladder\nfamilies: [rnn]\n")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("families[0] (line 3): unknown family 'rnn'"), std::string::npos)
      << bad.err;
  EXPECT_NE(bad.err.find("[INVALID_ARGUMENT]"), std::string::npos);
  EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << "one line: " << bad.err;

  CliResult missing = stack.Cli({"status", "424242"});
  EXPECT_EQ(missing.exit_code, 2);
  EXPECT_NE(missing.err.find("NOT_FOUND"), std::string::npos);

  CliResult usage = stack.Cli({"runs"});
  EXPECT_EQ(usage.exit_code, 2);

  stack.KillCoordinator();
  CliResult down = stack.Cli({"--timeout", "2s", "status"});
  EXPECT_EQ(down.exit_code, 3);
  EXPECT_NE(down.err.find("unreachable"), std::string::npos) << down.err;
  EXPECT_EQ(db_.Query("SELECT count(*) FROM sweeps"), "0");
}

}  // namespace
}  // namespace ladder

namespace ladder {
namespace {

// A grid of SIMULATED runs through the whole product: fits refine as runs
// complete, and the CLI answers fit, predict, optimal, compare and plot from
// the latest fits.
TEST_F(EndToEndTest, FitsRefineAsRunsLandAndTheCliAnswersFromTheLatest) {
  LocalStack stack(db_.url(), {"--refit-debounce=100ms", "--bootstrap-resamples=60"});
  stack.StartWorker("w1", 2);
  const int64_t sweep =
      Submit(stack,
             "name: fits\nkind: grid\nfamilies: [transformer, lstm]\n"
             "train: {batch_tokens: 4096}\n"
             "grid: {params: [3e4, 1e5, 3e5], tokens: [409600, 1638400, 6553600]}\n"
             "simulation: {seconds: 0.2, noise: 0.005}\n");
  CliResult watch = stack.Cli({"watch", std::to_string(sweep)}, 240);
  ASSERT_EQ(watch.exit_code, 0) << watch.out << watch.err;
  // Fits arrive shortly after the last run; wait for one using all 9 runs.
  std::string used;
  for (int i = 0; i < 200; ++i) {
    used = db_.Query(
        "SELECT max(runs_used) FROM fits WHERE family = 'transformer' AND form = 'chinchilla'");
    if (used == "9") break;
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(used, "9");
  EXPECT_GT(std::stoi(db_.Query(
                "SELECT count(*) FROM fits WHERE family = 'transformer' AND form = 'chinchilla'")),
            1)
      << "fits are refined as runs land, each refit a new version";

  CliResult fit = stack.Cli({"fit", std::to_string(sweep), "--family", "transformer"});
  EXPECT_EQ(fit.exit_code, 0) << fit.err;
  EXPECT_NE(fit.out.find("chinchilla"), std::string::npos) << fit.out;
  EXPECT_NE(fit.out.find("alpha ="), std::string::npos) << fit.out;

  // ladder-sim's transformer law: E 0.70, A 30, alpha 0.30, B 60, beta 0.28 (worker/README.md).
  CliResult predict = stack.Cli({"--json", "predict", std::to_string(sweep), "--family",
                                 "transformer", "--params", "1e6", "--tokens", "2e7"});
  ASSERT_EQ(predict.exit_code, 0) << predict.err;
  const auto p = nlohmann::json::parse(predict.out);
  const double truth = 0.70 + 30 / std::pow(1e6, 0.30) + 60 / std::pow(2e7, 0.28);
  EXPECT_NEAR(p["loss"]["estimate"].get<double>(), truth, 0.05 * truth) << predict.out;
  const std::string latest =
      db_.Query("SELECT max(id) FROM fits WHERE family = 'transformer' AND form = 'chinchilla'");
  // proto3 JSON writes int64 as a string.
  EXPECT_EQ(p["fit_id"].get<std::string>(), latest) << "answers come from the latest fit";

  CliResult optimal =
      stack.Cli({"optimal", std::to_string(sweep), "--family", "transformer", "--compute", "1e17"});
  EXPECT_EQ(optimal.exit_code, 0) << optimal.err;
  EXPECT_NE(optimal.out.find("N_opt"), std::string::npos);

  CliResult compare =
      stack.Cli({"compare", std::to_string(sweep), "--base", "lstm", "--family", "transformer"});
  EXPECT_EQ(compare.exit_code, 0) << compare.err;
  EXPECT_NE(compare.out.find("compute-equivalent gain"), std::string::npos) << compare.out;

  const std::string svg = stack.dir() + "/plot.svg";
  CliResult plot = stack.Cli({"plot", std::to_string(sweep), "-o", svg});
  ASSERT_EQ(plot.exit_code, 0) << plot.err;
  const std::string text = worker::testing::ReadFile(svg);
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_NE(text.find("transformer runs"), std::string::npos);

  CliResult bad =
      stack.Cli({"predict", std::to_string(sweep), "--family", "transformer", "--compute", "-5"});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--compute: must be positive"), std::string::npos) << bad.err;
}

TEST_F(EndToEndTest, ImportedCsvIsFittedLikeAnyOtherSweep) {
  LocalStack stack(db_.url(), {"--refit-debounce=50ms", "--bootstrap-resamples=40"});
  std::string csv = "family,params,tokens,loss\n";
  for (double n : {1e6, 3e6, 1e7, 3e7}) {
    for (double d : {2e7, 6e7, 2e8}) {
      const double loss =
          1.7 + 400 / std::pow(n, 0.34) + 410 / std::pow(d, 0.28);  // known law, no noise
      csv += "transformer," + std::to_string(n) + "," + std::to_string(d) + "," +
             std::to_string(loss) + "\n";
    }
  }
  CliResult imported =
      stack.Cli({"import", stack.WriteFile("runs.csv", csv), "--name", "published"});
  ASSERT_EQ(imported.exit_code, 0) << imported.err;
  const std::string id = std::to_string(std::atoll(imported.out.c_str()));
  std::string status;
  for (int i = 0; i < 200 && status != "ok"; ++i) {
    status =
        db_.Query("SELECT status FROM fits WHERE sweep_id = " + id + " AND form = 'chinchilla'");
    std::this_thread::sleep_for(100ms);
  }
  EXPECT_EQ(status, "ok");
  CliResult bad =
      stack.Cli({"import", stack.WriteFile("bad.csv", "family,params,tokens\nlstm,1,2\n")});
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("missing column 'loss'"), std::string::npos) << bad.err;
}

// ---------------------------------------------------------------- real numbers, hostile input

// A ladder-sim (SIMULATED) run of 3e9 tokens, past 2^31: every progress
// report reaches the database, so the whole curve is kept.
TEST_F(EndToEndTest, ARunPast2To31TokensKeepsItsWholeCurve) {
  LocalStack stack(db_.url());
  stack.StartWorker("w1", 1);
  const int64_t sweep = Submit(stack,
                               "name: big\nkind: grid\nfamilies: [lstm]\nmax_attempts: 1\n"
                               "train: {batch_tokens: 1048576, log_interval_steps: 1}\n"
                               "grid: {params: [3e4], tokens: [3e9]}\n"
                               "simulation: {seconds: 2.0}\n");
  CliResult watch = stack.Cli({"watch", std::to_string(sweep)});
  ASSERT_EQ(watch.exit_code, 0) << watch.out << watch.err;
  const int64_t tokens = std::stoll(db_.Query("SELECT tokens FROM runs"));
  ASSERT_GE(tokens, int64_t{3'000'000'000});
  EXPECT_EQ(db_.Query("SELECT tokens_done FROM runs"), std::to_string(tokens));
  // Points on both sides of 2^31, the last at the run's end, none missing:
  // the sim reports every log_every-th step, so steps are evenly spaced.
  EXPECT_EQ(db_.Query("SELECT max(tokens) FROM curve_points"), std::to_string(tokens));
  EXPECT_EQ(db_.Query("SELECT count(*) > 0 FROM curve_points WHERE tokens > 2147483648"), "t");
  EXPECT_EQ(db_.Query("SELECT count(*) > 0 FROM curve_points WHERE tokens < 2147483648"), "t");
  const int points = std::stoi(db_.Query("SELECT count(*) FROM curve_points"));
  EXPECT_EQ(db_.Query("SELECT curve_points FROM runs"), std::to_string(points));
  const int64_t first = std::stoll(db_.Query("SELECT min(step) FROM curve_points"));
  const int64_t last = std::stoll(db_.Query("SELECT max(step) FROM curve_points"));
  const int64_t interior = std::stoll(db_.Query("SELECT count(*) FROM curve_points WHERE step % " +
                                                std::to_string(first) + " = 0"));
  EXPECT_EQ(interior + (last % first == 0 ? 0 : 1), points) << "a gap in the curve";
  EXPECT_EQ(last / first, interior) << "a gap in the curve";
}

// The hostile trainer (tests/testing/hostile_trainer.py, SIMULATED) sends one
// bad value through a real worker to a real coordinator.
class HostileTrainerTest : public EndToEndTest {
 protected:
  void RunWith(const std::string& mode) {
    LocalStack stack(db_.url());
    stack.StartWorker("w1", 1, testing::SourceDir() + "/tests/testing/hostile_trainer.py",
                      {"--trainer-arg=--mode=" + mode});
    const int64_t sweep = Submit(stack,
                                 "name: hostile\nkind: grid\nfamilies: [lstm]\nmax_attempts: 1\n"
                                 "grid: {params: [3e4], tokens: [409600]}\n");
    watch_ = stack.Cli({"watch", std::to_string(sweep)});
    worker_log_ = stack.WorkerLog(0);
  }
  CliResult watch_;
  std::string worker_log_;
};

TEST_F(HostileTrainerTest, ANulCharacterInTheResultIsStoredNotLost) {
  RunWith("nul-device");
  EXPECT_EQ(watch_.exit_code, 0) << watch_.out << watch_.err << worker_log_;
  EXPECT_EQ(db_.Query("SELECT state || ':' || final_eval_loss FROM runs"), "succeeded:3");
  EXPECT_EQ(db_.Query("SELECT device FROM runs"),
            "cpu\xEF\xBF\xBD"
            "evil");
}

TEST_F(HostileTrainerTest, AnImplausibleLossFailsTheAttemptNamingTheField) {
  RunWith("huge-loss");
  EXPECT_EQ(watch_.exit_code, 1) << watch_.out << watch_.err;
  EXPECT_EQ(db_.Query("SELECT state || ':' || (final_eval_loss IS NULL) FROM runs"), "failed:true");
  EXPECT_EQ(db_.Query("SELECT reason FROM attempts"), "bad_result")
      << "failed at once with the reason, not left to expire";
  const std::string error = db_.Query("SELECT last_error FROM runs");
  EXPECT_NE(error.find("result_json.final_eval_loss"), std::string::npos) << error;
}

TEST_F(HostileTrainerTest, AnOutOfRangeNumberInATrainerLineFailsOnlyThatAttempt) {
  RunWith("bad-flops");
  EXPECT_EQ(watch_.exit_code, 1) << watch_.out << watch_.err;
  EXPECT_EQ(db_.Query("SELECT reason FROM attempts"), "protocol_error") << worker_log_;
  const std::string error = db_.Query("SELECT last_error FROM runs");
  EXPECT_NE(error.find("line 2"), std::string::npos) << "the progress line is at fault: " << error;
  EXPECT_EQ(error.find("missing field"), std::string::npos) << error;
  EXPECT_EQ(worker_log_.find("terminate called"), std::string::npos) << worker_log_;
}

}  // namespace
}  // namespace ladder
