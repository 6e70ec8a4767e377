// ProcessTrainerLauncher with real children (/bin/sh scripts).
#include "worker/process_trainer_launcher.h"

#include <fcntl.h>
#include <gtest/gtest.h>
#include <signal.h>
#include <unistd.h>

#include <boost/asio/io_context.hpp>
#include <boost/asio/post.hpp>
#include <filesystem>
#include <functional>
#include <optional>
#include <thread>

#include "worker/testing/test_configs.h"

namespace ladder::worker {
namespace {

using namespace std::chrono_literals;

// Collects what a child reports.
struct Observed {
  std::vector<std::string> lines;
  std::optional<absl::Status> stdout_closed;
  std::optional<TrainerExit> exit;
  TrainerCallbacks Callbacks() {
    TrainerCallbacks c;
    c.on_line = [this](std::string line) { lines.push_back(std::move(line)); };
    c.on_stdout_closed = [this](absl::Status s) { stdout_closed = s; };
    c.on_exit = [this](TrainerExit e) { exit = e; };
    return c;
  }
  bool done() const { return stdout_closed.has_value() && exit.has_value(); }
};

bool RunUntil(boost::asio::io_context& io, const std::function<bool()>& condition,
              std::chrono::milliseconds timeout = 10s) {
  const auto deadline = std::chrono::steady_clock::now() + timeout;
  while (!condition()) {
    if (std::chrono::steady_clock::now() > deadline) return false;
    io.restart();
    io.run_for(10ms);
  }
  return true;
}

bool ProcessGone(pid_t pid) {
  for (int i = 0; i < 200; ++i) {
    if (::kill(pid, 0) != 0 && errno == ESRCH) return true;
    // A zombie re-parented to init counts as gone.
    const std::string stat = testing::ReadFile("/proc/" + std::to_string(pid) + "/stat");
    if (stat.find(") Z") != std::string::npos) return true;
    std::this_thread::sleep_for(10ms);
  }
  return false;
}

class LauncherTest : public ::testing::Test {
 protected:
  LaunchSpec Shell(const std::string& script) {
    LaunchSpec spec;
    spec.program = "/bin/sh";
    spec.args = {"-c", script};
    spec.working_dir = dir_.path();
    spec.stderr_path = dir_.path() + "/stderr.log";
    return spec;
  }
  testing::TempDir dir_;
  boost::asio::io_context io_;
  ProcessTrainerLauncher launcher_{io_, 1024};
  Observed seen_;
};

TEST_F(LauncherTest, DeliversLinesThenEndOfStdoutAndTheExitCode) {
  auto p = launcher_.Launch(Shell("echo one; printf 'two\\r\\n'; printf three; exit 3"),
                            seen_.Callbacks());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_.done(); }));
  EXPECT_EQ(seen_.lines, (std::vector<std::string>{"one", "two", "three"}));
  EXPECT_TRUE(seen_.stdout_closed->ok()) << *seen_.stdout_closed;
  EXPECT_FALSE(seen_.exit->signaled);
  EXPECT_EQ(seen_.exit->code, 3);
  EXPECT_EQ(seen_.exit->Describe(), "exit code 3");
}

// Regression: Boost.Process can report an exit inside the child's
// constructor, before the pid is known; signalling "group -0" then killed the
// worker's own process group (this test's, and ctest's).
TEST_F(LauncherTest, TrainersThatExitAtOnceAreReportedNormally) {
  for (int i = 0; i < 40; ++i) {
    Observed seen;
    LaunchSpec spec = Shell("");
    spec.program = "/bin/true";
    spec.args.clear();
    // From a handler, as the daemon does: only there can Boost.Process run
    // its exit handling inline.
    std::unique_ptr<TrainerProcess> process;
    boost::asio::post(io_, [&] {
      auto p = launcher_.Launch(spec, seen.Callbacks());
      ASSERT_TRUE(p.ok()) << p.status();
      process = *std::move(p);
      // Some children are gone before the next handler looks.
      std::this_thread::sleep_for(std::chrono::milliseconds(i % 4));
    });
    ASSERT_TRUE(RunUntil(io_, [&] { return seen.done(); }));
    EXPECT_TRUE(seen.exit->ok());
  }
}

TEST_F(LauncherTest, ReportsDeathBySignal) {
  auto p = launcher_.Launch(Shell("kill -9 $$"), seen_.Callbacks());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_.done(); }));
  EXPECT_TRUE(seen_.exit->signaled);
  EXPECT_EQ(seen_.exit->code, 9);
  EXPECT_EQ(seen_.exit->Describe(), "killed by signal 9 (SIGKILL)");
}

TEST_F(LauncherTest, StderrGoesToItsFileAndTheEnvironmentIsPassed) {
  LaunchSpec spec = Shell("echo oops >&2; echo \"$LADDER_RUN_ID $LADDER_ATTEMPT\"; pwd");
  spec.env = {{"LADDER_RUN_ID", "42"}, {"LADDER_ATTEMPT", "3"}};
  auto p = launcher_.Launch(spec, seen_.Callbacks());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_.done(); }));
  ASSERT_EQ(seen_.lines.size(), 2u);
  EXPECT_EQ(seen_.lines[0], "42 3");
  EXPECT_EQ(std::filesystem::canonical(seen_.lines[1]), std::filesystem::canonical(dir_.path()));
  EXPECT_EQ(testing::ReadFile(dir_.path() + "/stderr.log"), "oops\n");
}

TEST_F(LauncherTest, TerminateStopsTheWholeProcessGroup) {
  auto p = launcher_.Launch(Shell("sleep 60 & echo $!; wait"), seen_.Callbacks());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(RunUntil(io_, [&] { return !seen_.lines.empty(); }));
  const pid_t grandchild = std::stoi(seen_.lines[0]);
  (*p)->Terminate();
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_.done(); }));
  EXPECT_TRUE(seen_.exit->signaled);
  EXPECT_EQ(seen_.exit->code, SIGTERM);
  EXPECT_TRUE(ProcessGone(grandchild));
}

TEST_F(LauncherTest, KillEndsATrainerThatIgnoresSigterm) {
  auto p = launcher_.Launch(Shell("trap '' TERM; echo ready; while :; do sleep 0.05; done"),
                            seen_.Callbacks());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(RunUntil(io_, [&] { return !seen_.lines.empty(); }));
  (*p)->Terminate();
  EXPECT_FALSE(RunUntil(
      io_, [&] { return seen_.exit.has_value(); }, 300ms));
  (*p)->Kill();
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_.done(); }));
  EXPECT_EQ(seen_.exit->code, SIGKILL);
}

TEST_F(LauncherTest, AnOverlongLineEndsReadingWithResourceExhausted) {
  auto p = launcher_.Launch(Shell("head -c 5000 /dev/zero | tr '\\000' a; echo; sleep 5"),
                            seen_.Callbacks());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_.stdout_closed.has_value(); }));
  EXPECT_EQ(seen_.stdout_closed->code(), absl::StatusCode::kResourceExhausted);
  EXPECT_TRUE(seen_.lines.empty());
  (*p)->Kill();
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_.exit.has_value(); }));
}

TEST_F(LauncherTest, TheWorkersDescriptorsAreNotInherited) {
  int fds[2];
  ASSERT_EQ(::pipe(fds), 0);  // deliberately without O_CLOEXEC
  auto p = launcher_.Launch(Shell("ls /proc/$$/fd"), seen_.Callbacks());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(RunUntil(io_, [&] { return seen_.done(); }));
  for (const auto& fd : seen_.lines) {
    EXPECT_NE(fd, std::to_string(fds[0]));
    EXPECT_NE(fd, std::to_string(fds[1]));
  }
  ::close(fds[0]);
  ::close(fds[1]);
}

TEST_F(LauncherTest, AMissingProgramIsNotFound) {
  LaunchSpec spec = Shell("");
  spec.program = "/nonexistent/trainer";
  auto p = launcher_.Launch(spec, seen_.Callbacks());
  EXPECT_EQ(p.status().code(), absl::StatusCode::kNotFound);
}

TEST_F(LauncherTest, DestroyingTheProcessKillsItAndSilencesCallbacks) {
  auto p = launcher_.Launch(Shell("echo $$; exec sleep 60"), seen_.Callbacks());
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_TRUE(RunUntil(io_, [&] { return !seen_.lines.empty(); }));
  const pid_t pid = std::stoi(seen_.lines[0]);
  p->reset();
  RunUntil(
      io_, [] { return false; }, 200ms);
  EXPECT_TRUE(ProcessGone(pid));
  EXPECT_FALSE(seen_.exit.has_value());
}

}  // namespace
}  // namespace ladder::worker
