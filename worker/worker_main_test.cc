// The ladder-worker binary: flags, exit codes, signals.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>

#include <thread>

#include "worker/testing/fake_agent.h"
#include "worker/testing/test_configs.h"

namespace ladder::worker {
namespace {

using namespace std::chrono_literals;
using testing::FakeAgent;
using testing::SimConfigJson;
using testing::SimRun;
using testing::Subprocess;
using testing::TempDir;

int ExitCode(const std::optional<int>& status) {
  return status && WIFEXITED(*status) ? WEXITSTATUS(*status) : -1;
}

class WorkerMainTest : public ::testing::Test {
 protected:
  std::vector<std::string> Argv(std::vector<std::string> extra) {
    std::vector<std::string> argv = {LADDER_WORKER_PATH,
                                     "--coordinator",
                                     agent_.address(),
                                     "--insecure",
                                     "--trainer",
                                     LADDER_SIM_PATH,
                                     "--work-dir",
                                     dir_.path() + "/work",
                                     "--devices",
                                     "cpu",
                                     "--lease-poll-interval",
                                     "50ms",
                                     "--kill-grace",
                                     "300ms",
                                     "--name",
                                     "main-test"};
    argv.insert(argv.end(), extra.begin(), extra.end());
    return argv;
  }
  std::optional<int> Run(const std::vector<std::string>& argv) {
    Subprocess p(argv, out(), err());
    return p.Wait(10s);
  }
  std::string out() const { return dir_.path() + "/stdout"; }
  std::string err() const { return dir_.path() + "/stderr"; }

  TempDir dir_;
  FakeAgent agent_;
};

TEST_F(WorkerMainTest, HelpExitsZero) {
  EXPECT_EQ(ExitCode(Run({LADDER_WORKER_PATH, "--help"})), 0);
  const std::string help = testing::ReadFile(out());
  for (const char* flag : {"--coordinator", "--trainer-arg", "--cpu-slots", "--drain-grace",
                           "--trainer-silence-timeout", "--log-level"}) {
    EXPECT_NE(help.find(flag), std::string::npos) << flag;
  }
}

TEST_F(WorkerMainTest, BadFlagsExitTwoWithOneLine) {
  const std::vector<std::pair<std::vector<std::string>, std::string>> cases = {
      {{"--cpu-slots", "0"}, "--cpu-slots"}, {{"--kill-grace", "soon"}, "--kill-grace"},
      {{"--devices", "gpu"}, "--devices"},   {{"--log-level", "loud"}, "--log-level"},
      {{"--no-such-flag"}, "no-such-flag"},
  };
  for (const auto& [extra, expected] : cases) {
    EXPECT_EQ(ExitCode(Run(Argv(extra))), 2) << expected;
    const auto lines = testing::ReadLines(err());
    ASSERT_EQ(lines.size(), 1u) << testing::ReadFile(err());
    EXPECT_NE(lines[0].find(expected), std::string::npos) << lines[0];
  }
  EXPECT_EQ(ExitCode(Run({LADDER_WORKER_PATH, "--coordinator", "10.0.0.1:7070", "--insecure",
                          "--trainer", LADDER_SIM_PATH})),
            2);
}

TEST_F(WorkerMainTest, SigtermDrainsTheRunningAttemptAndExitsZero) {
  agent_.Start();
  SimRun slow;
  slow.seconds = 30;
  agent_.AddRun(1, SimConfigJson(slow));
  Subprocess worker(Argv({"--drain-grace", "300ms"}), out(), err());
  ASSERT_TRUE(agent_.WaitFor(
      [&] {
        auto a = agent_.AttemptOfRun(1);
        return a && !a->started_json.empty();
      },
      10s))
      << testing::ReadFile(err());
  worker.Signal(SIGTERM);
  EXPECT_EQ(ExitCode(worker.Wait(10s)), 0) << testing::ReadFile(err());
  EXPECT_EQ(agent_.AttemptOfRun(1)->fail_reason, "drained");
}

TEST_F(WorkerMainTest, ASecondSigtermCutsTheGraceShort) {
  agent_.Start();
  SimRun slow;
  slow.seconds = 30;
  agent_.AddRun(1, SimConfigJson(slow));
  Subprocess worker(Argv({"--drain-grace", "60s"}), out(), err());
  ASSERT_TRUE(agent_.WaitFor(
      [&] {
        auto a = agent_.AttemptOfRun(1);
        return a && !a->started_json.empty();
      },
      10s));
  worker.Signal(SIGTERM);
  std::this_thread::sleep_for(300ms);
  EXPECT_FALSE(worker.Wait(0ms).has_value());  // still in its grace
  worker.Signal(SIGINT);
  EXPECT_EQ(ExitCode(worker.Wait(5s)), 0) << testing::ReadFile(err());
  EXPECT_EQ(agent_.AttemptOfRun(1)->fail_reason, "drained");
}

}  // namespace
}  // namespace ladder::worker
