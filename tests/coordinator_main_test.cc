// ladder-coordinator's command line, through the real binary: bad flags end
// it with exit 2 and one line naming the flag, before anything is started.
#include <gtest/gtest.h>
#include <sys/wait.h>

#include <array>
#include <cstdio>
#include <string>

#include "tests/testing/test_env.h"

namespace ladder {
namespace {

struct Ran {
  int exit_code = -1;
  std::string output;  // stdout and stderr
};

Ran RunCoordinator(const std::string& args) {
  const std::string command = testing::BinDir() + "/ladder-coordinator " + args + " 2>&1";
  Ran r;
  FILE* pipe = popen(command.c_str(), "r");
  if (pipe == nullptr) return r;
  std::array<char, 4096> buffer;
  size_t n;
  while ((n = fread(buffer.data(), 1, buffer.size(), pipe)) > 0) r.output.append(buffer.data(), n);
  const int status = pclose(pipe);
  if (WIFEXITED(status)) r.exit_code = WEXITSTATUS(status);
  return r;
}

// Nothing listens or is reached: the options are refused first.
const char kBase[] =
    "--listen 127.0.0.1:0 --insecure-plaintext --database-url postgresql://nobody@127.0.0.1:1/none";

TEST(CoordinatorMainTest, AnOldMillisecondFlagNamesItsSuccessor) {
  const Ran r = RunCoordinator(std::string(kBase) + " --lease-ttl-ms 30000");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--lease-ttl-ms: renamed --lease-ttl"), std::string::npos) << r.output;
}

TEST(CoordinatorMainTest, ADurationWithoutSenseIsRefusedNamingTheFlag) {
  const Ran r = RunCoordinator(std::string(kBase) + " --refit-debounce banana");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--refit-debounce"), std::string::npos) << r.output;
}

TEST(CoordinatorMainTest, OptionsOutOfRangeAreRefusedOnceWithTheFlagAtFault) {
  const Ran r = RunCoordinator(std::string(kBase) + " --lease-ttl 10ms");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--lease-ttl: must be at least 100ms"), std::string::npos) << r.output;
  // Validated once: the complaint is made one time, not by main and again
  // by the coordinator.
  EXPECT_EQ(r.output.find("must be at least 100ms"), r.output.rfind("must be at least 100ms"))
      << r.output;
}

TEST(CoordinatorMainTest, DurationsTakeTheirUnit) {
  // 1s heartbeat against a 500ms lease: refused, so "500ms" was read as
  // milliseconds and "1s" as a second.
  const Ran r = RunCoordinator(std::string(kBase) + " --lease-ttl 500ms --heartbeat-interval 1s");
  EXPECT_EQ(r.exit_code, 2) << r.output;
  EXPECT_NE(r.output.find("--heartbeat-interval"), std::string::npos) << r.output;
}

}  // namespace
}  // namespace ladder
