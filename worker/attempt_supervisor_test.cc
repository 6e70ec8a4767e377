// The protocol rules of AttemptSupervisor, with small shell scripts as
// trainers (each case is one script) under the in-process daemon.
#include "worker/attempt_supervisor.h"

#include <gtest/gtest.h>
#include <sys/stat.h>

#include <fstream>

#include "worker/testing/fake_agent.h"
#include "worker/testing/test_configs.h"
#include "worker/testing/worker_harness.h"

namespace ladder::worker {
namespace {

using namespace std::chrono_literals;
using testing::FakeAgent;

constexpr char kStarted[] =
    R"({"event":"started","trainer":"script","version":"1","simulated":false,"device":"cpu",)"
    R"("threads":1,"params_total":10,"params_non_embedding":8,"flops_per_token":60,)"
    R"("flops_per_token_6n":48,"total_steps":2,"resumed_from_step":0,"resumed_from_tokens":0})";
constexpr char kProgress[] =
    R"({"event":"progress","step":1,"tokens":8,"flops":480,"train_loss":3.0,"eval_loss":null,)"
    R"("lr":0.001,"grad_norm":1.0,"tokens_per_second":8,"flops_per_second":480,"mfu":null})";
constexpr char kResult[] =
    R"({"event":"result","final_eval_loss":2.5,"final_train_loss":2.4,"params_total":10,)"
    R"("params_non_embedding":8,"tokens":16,"unique_tokens":16,"epochs":1,"flops":960,)"
    R"("flops_6n":768,"wall_seconds":0.1,"device":"cpu","simulated":false,"details":{}})";

struct Case {
  const char* name;
  std::vector<std::string> stdout_lines;
  int exit_code;
  std::string reason;          // "" = completed
  std::string message_prefix;  // of the FailAttempt message
};

class SupervisorProtocolTest : public ::testing::TestWithParam<Case> {};

TEST_P(SupervisorProtocolTest, ReportsTheOutcomeTheProtocolPrescribes) {
  const Case& c = GetParam();
  testing::TempDir dir;
  const std::string script = dir.path() + "/trainer.sh";
  {
    std::ofstream out(script);
    out << "#!/bin/sh\n";
    for (const auto& line : c.stdout_lines) out << "cat <<'EOF'\n" << line << "\nEOF\n";
    out << "echo 'script trainer done' >&2\nexit " << c.exit_code << "\n";
  }
  ::chmod(script.c_str(), 0755);
  FakeAgent agent;
  agent.Start();
  agent.AddRun(1, "{}");
  testing::WorkerHarness worker(agent, script);
  ASSERT_TRUE(agent.WaitFor(
      [&] {
        auto a = agent.AttemptOfRun(1);
        return a && a->finished();
      },
      10s));
  const auto a = *agent.AttemptOfRun(1);
  EXPECT_EQ(a.fail_reason, c.reason) << a.fail_message;
  EXPECT_EQ(a.fail_message.rfind(c.message_prefix, 0), 0u) << a.fail_message;
  EXPECT_EQ(a.result_json.empty(), !c.reason.empty());
}

INSTANTIATE_TEST_SUITE_P(
    Outcomes, SupervisorProtocolTest,
    ::testing::Values(Case{"ResultAndExitZeroCompletes", {kStarted, kProgress, kResult}, 0, "", ""},
                      Case{"ExitZeroWithoutResult",
                           {kStarted, kProgress},
                           0,
                           "protocol_error",
                           "exited 0 without a 'result' event"},
                      Case{"ProgressBeforeStarted",
                           {kProgress},
                           0,
                           "protocol_error",
                           "stdout line 1: 'progress' before 'started'"},
                      Case{"LineAfterResult",
                           {kStarted, kResult, kProgress},
                           0,
                           "protocol_error",
                           "stdout line 3: a line after the final 'result' event"},
                      Case{"UnknownEvent",
                           {kStarted, R"({"event":"finished"})"},
                           0,
                           "protocol_error",
                           "stdout line 2: unknown event 'finished'"},
                      Case{"MissingField",
                           {kStarted, R"({"event":"progress","step":1})"},
                           0,
                           "protocol_error",
                           "stdout line 2: progress: missing field 'tokens'"},
                      // 1e400 made nlohmann throw out_of_range, which killed ladder-worker.
                      Case{"NumberNoDoubleHoldsIsAProtocolError",
                           {kStarted,
                            R"({"event":"progress","step":1,"tokens":8,"flops":1e400,)"
                            R"("train_loss":3.0,"eval_loss":null,"lr":0.001,"grad_norm":1.0,)"
                            R"("tokens_per_second":8,"flops_per_second":480,"mfu":null})"},
                           0,
                           "protocol_error",
                           "stdout line 2: not JSON: a number out of range"},
                      // The failure message quotes the line: it must still be valid UTF-8
                      // (a protobuf string) or the coordinator cannot read the report.
                      Case{"InvalidUtf8LineIsAProtocolError",
                           {"\xff\xfe not JSON \xe2\x82"},
                           0,
                           "protocol_error",
                           "stdout line 1: not JSON (byte 1)"},
                      Case{"ErrorThenExitZero",
                           {R"({"event":"error","kind":"data","message":"no corpus"})"},
                           0,
                           "protocol_error",
                           "exited 0 after an 'error' event"},
                      Case{"ErrorBeforeStartedIsAllowed",
                           {R"({"event":"error","kind":"data","message":"no corpus 'x'"})"},
                           1,
                           "data",
                           "no corpus 'x'"},
                      Case{"SilentNonZeroExitCrashed",
                           {},
                           3,
                           "crashed",
                           "exit code 3; stderr: script trainer done"},
                      Case{"ResultThenNonZeroExitCrashed",
                           {kStarted, kResult},
                           3,
                           "crashed",
                           "exit code 3 after its 'result' event"}),
    [](const ::testing::TestParamInfo<Case>& info) { return info.param.name; });

}  // namespace
}  // namespace ladder::worker
