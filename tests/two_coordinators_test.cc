// Two coordinators on one database, real processes over real sockets: a
// worker and the CLI given both addresses ("--coordinator=A,B") move to the
// live one when the other dies. The trainer is ladder-sim (SIMULATED runs).
#include <gtest/gtest.h>
#include <signal.h>

#include <string>
#include <thread>

#include "common/channel_options.h"
#include "ladder/v1/ladder.grpc.pb.h"
#include "tests/testing/coordinator_harness.h"
#include "tests/testing/local_stack.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_env.h"

namespace ladder {
namespace {

using testing::CliResult;
using testing::LocalStack;
using namespace std::chrono_literals;

class TwoCoordinatorsTest : public ::testing::Test {
 protected:
  // Polls `sql` until it returns `want` (up to ~20 s); the last value.
  std::string AwaitQuery(const std::string& sql, const std::string& want) {
    std::string got;
    for (int i = 0; i < 200 && (got = db_.Query(sql)) != want; ++i) {
      std::this_thread::sleep_for(100ms);
    }
    return got;
  }

  testing::TestDatabase db_;
};

TEST_F(TwoCoordinatorsTest, WorkerAndCliMoveToTheLiveCoordinatorWhenTheFirstIsKilled) {
  LocalStack first(db_.url());
  LocalStack second(db_.url());
  const std::string both = "--coordinator=" + first.address() + "," + second.address();

  // pick_first: the worker talks to the first coordinator of its list.
  first.StartWorker("w", 2, "", {both});
  const std::string sweep_file =
      first.WriteFile("sweep.yaml",
                      "name: two-coordinators\nkind: grid\nfamilies: [transformer, lstm]\n"
                      "max_attempts: 3\ntrain: {batch_tokens: 4096}\n"
                      "grid: {params: [30000, 60000], tokens: [409600]}\n"
                      "simulation: {seconds: 2.0}\n");
  CliResult submit = first.Cli({both, "submit", sweep_file});
  ASSERT_EQ(submit.exit_code, 0) << submit.err;
  const std::string sweep = std::to_string(std::atoll(submit.out.c_str()));

  // Mid-sweep: both slots busy, no run finished yet. Then the first
  // coordinator dies outright.
  ASSERT_EQ(AwaitQuery("SELECT count(*) FROM runs WHERE state = 'running'", "2"), "2");
  ASSERT_EQ(db_.Query("SELECT count(*) FROM runs WHERE state = 'succeeded'"), "0");
  ASSERT_NE(first.CoordinatorLog().find("worker w registered"), std::string::npos)
      << "the worker registered through the first coordinator of its list:\n"
      << first.CoordinatorLog();
  first.KillCoordinator();

  // The first alone is gone for the CLI...
  CliResult alone = first.Cli({"status", sweep}, 60);
  EXPECT_EQ(alone.exit_code, 3) << "the first coordinator must be down: " << alone.out << alone.err;
  // ...and the list still answers, through the second.
  CliResult status = first.Cli({both, "status", sweep}, 60);
  EXPECT_EQ(status.exit_code, 0) << status.err;
  EXPECT_NE(status.out.find("two-coordinators"), std::string::npos) << status.out;

  // The same worker process, never restarted, finishes the sweep through the
  // second coordinator.
  CliResult watch = first.Cli({both, "watch", sweep}, 120);
  EXPECT_EQ(watch.exit_code, 0) << watch.out << watch.err << "\nworker log:\n"
                                << first.WorkerLog(0);
  EXPECT_EQ(db_.Query("SELECT state FROM sweeps"), "succeeded");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM runs WHERE state = 'succeeded'"), "4");
  // Exactly one result per run, whatever happened to the attempts that were
  // running when the first coordinator died (finished through the second,
  // or expired and run again).
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome = 'succeeded'"), "4");
  EXPECT_EQ(
      db_.Query("SELECT count(*) FROM (SELECT run_id FROM attempts WHERE outcome = 'succeeded' "
                "GROUP BY run_id HAVING count(*) > 1) d"),
      "0");
}

TEST_F(TwoCoordinatorsTest, CliSkipsAnAddressWhereNothingListens) {
  LocalStack live(db_.url());
  // A port that was just free: nothing listens there.
  int dead_port = 0;
  {
    LocalStack gone(db_.url());
    dead_port = gone.port();
    gone.KillCoordinator();
  }
  const std::string list =
      "--coordinator=127.0.0.1:" + std::to_string(dead_port) + "," + live.address();
  CliResult workers = live.Cli({list, "workers"}, 60);
  EXPECT_EQ(workers.exit_code, 0) << workers.err;
  CliResult bad = live.Cli({"--coordinator=127.0.0.1:7400,", "workers"}, 60);
  EXPECT_EQ(bad.exit_code, 2);
  EXPECT_NE(bad.err.find("--coordinator: entry 2 is empty"), std::string::npos) << bad.err;
}

// Mutual TLS to a list: the certificate is checked for the list's first host
// (127.0.0.1, a name of the suite's server certificate) on whichever
// coordinator answers; a name the certificate lacks fails the handshake.
TEST_F(TwoCoordinatorsTest, TlsWorkerChannelToAListChecksTheCertificateOnEither) {
  auto tls = [](CoordinatorOptions& o) { testing::CoordinatorHarness::UseTestTls(o); };
  auto first = std::make_unique<testing::CoordinatorHarness>(db_.url(), tls);
  testing::CoordinatorHarness second(db_.url(), tls);
  const std::string certs = testing::TestCertsDir();
  ChannelOptions o;
  o.address = first->address() + "," + second.address();
  o.tls_ca_file = certs + "/ca.pem";
  o.tls_cert_file = certs + "/worker-w1.pem";
  o.tls_key_file = certs + "/worker-w1-key.pem";

  // wait_for_ready: the call waits out a connection being made (or moved).
  auto register_w1 = [](const ChannelOptions& options, bool wait_for_ready = true) {
    auto channel = MakeChannel(options);
    if (!channel.ok()) return grpc::Status(grpc::StatusCode::INTERNAL, "no channel");
    auto agent = v1::Agent::NewStub(*channel);
    // "w1": the certificate's CN.
    const v1::RegisterWorkerRequest req = testing::CoordinatorHarness::CpuWorkerRequest("w1");
    v1::RegisterWorkerResponse resp;
    auto ctx = testing::CoordinatorHarness::Ctx();
    ctx->set_wait_for_ready(wait_for_ready);
    return agent->RegisterWorker(ctx.get(), req, &resp);
  };
  grpc::Status s = register_w1(o);
  EXPECT_TRUE(s.ok()) << s.error_message();
  first->Stop();
  first.reset();
  s = register_w1(o);
  EXPECT_TRUE(s.ok()) << "through the second: " << s.error_message();

  ChannelOptions wrong_name = o;
  wrong_name.tls_server_name = "not-in-the-certificate.example";
  s = register_w1(wrong_name, /*wait_for_ready=*/false);
  EXPECT_EQ(s.error_code(), grpc::StatusCode::UNAVAILABLE) << s.error_message();
}

}  // namespace
}  // namespace ladder
