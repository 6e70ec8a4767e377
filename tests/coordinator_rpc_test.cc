// The coordinator's gRPC API over real sockets with a real PostgreSQL:
// validation errors, the agent cycle, watch streams, restarts and several
// coordinators sharing one database.
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <atomic>
#include <nlohmann/json.hpp>
#include <set>
#include <thread>

#include "common/protocol/trainer_events.h"
#include "tests/testing/coordinator_harness.h"
#include "tests/testing/http_get.h"
#include "tests/testing/test_database.h"

namespace ladder {
namespace {

using testing::CoordinatorHarness;
using namespace std::chrono_literals;

constexpr char kGridSweep[] =
    "name: rpc\nkind: grid\nfamilies: [transformer, lstm]\ngrid: {params: [1e5], tokens: [4096, "
    "8192]}\n";

int64_t Register(v1::Agent::Stub& agent, const std::string& name,
                 int64_t memory = int64_t{1} << 34) {
  v1::RegisterWorkerRequest req;
  req.set_name(name);
  req.set_hostname("localhost");
  req.set_trainer("test");
  auto* d = req.add_devices();
  d->set_index(0);
  d->set_kind("cpu");
  d->set_model("cpu");
  d->set_memory_bytes(memory);
  v1::RegisterWorkerResponse resp;
  grpc::Status st = agent.RegisterWorker(CoordinatorHarness::Ctx().get(), req, &resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  return resp.worker_id();
}

grpc::Status Submit(CoordinatorHarness& h, const std::string& yaml, v1::CreateSweepResponse* resp) {
  v1::CreateSweepRequest req;
  req.set_spec_yaml(yaml);
  return h.sweeps().CreateSweep(CoordinatorHarness::Ctx().get(), req, resp);
}

// Leases and completes every run it can; returns how many it completed.
// A result that matches the leased run's plan (tokens and FLOPs as planned).
std::string PlannedResult(const v1::Lease& lease, double loss) {
  const auto config = nlohmann::json::parse(lease.config_json());
  protocol::ResultEvent r;  // every required field; the others zero
  r.final_eval_loss = loss;
  r.tokens = config["train"]["tokens"].get<int64_t>();
  r.flops = config["plan"]["flops"].get<double>();
  return protocol::WriteEventLine(r);
}

int DrainQueue(v1::Agent::Stub& agent, int64_t worker, double loss) {
  int done = 0;
  for (;;) {
    v1::LeaseRunRequest lr;
    lr.set_worker_id(worker);
    v1::LeaseRunResponse lease;
    if (!agent.LeaseRun(CoordinatorHarness::Ctx().get(), lr, &lease).ok() || !lease.granted())
      return done;
    v1::CompleteAttemptRequest c;
    c.set_attempt_id(lease.lease().attempt_id());
    c.set_lease_token(lease.lease().lease_token());
    c.set_result_json(PlannedResult(lease.lease(), loss));
    v1::CompleteAttemptResponse cr;
    if (agent.CompleteAttempt(CoordinatorHarness::Ctx().get(), c, &cr).ok()) ++done;
  }
}

class CoordinatorRpcTest : public ::testing::Test {
 protected:
  testing::TestDatabase db_;
};

TEST_F(CoordinatorRpcTest, MalformedSweepIsRefusedWholeNamingTheField) {
  CoordinatorHarness h(db_.url());
  v1::CreateSweepResponse resp;
  grpc::Status st = Submit(h,
                           "name: x\nkind: ladder\nfamilies: [transformer, gru]\n"
                           "ladder: {min_params: 1e4, max_params: 1e6, steps: 3}\n",
                           &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("families[1] (line 3): unknown family 'gru'"),
            std::string::npos)
      << st.error_message();
  st = Submit(h, "name: x\n  kind: : ladder\n", &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("YAML syntax error at line"), std::string::npos)
      << st.error_message();
  EXPECT_EQ(db_.Query("SELECT count(*) FROM sweeps"), "0");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM runs"), "0");
}

TEST_F(CoordinatorRpcTest, RunTooLargeForEveryRegisteredDeviceIsRefused) {
  CoordinatorHarness h(db_.url());
  Register(h.agent(), "tiny", 1 << 20);  // 1 MiB
  v1::CreateSweepResponse resp;
  grpc::Status st = Submit(h, kGridSweep, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("runs[0]"), std::string::npos) << st.error_message();
  EXPECT_NE(st.error_message().find("more than any registered device"), std::string::npos);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM sweeps"), "0");
}

TEST_F(CoordinatorRpcTest, DryRunShowsTheRunsAndStoresNothing) {
  CoordinatorHarness h(db_.url());
  v1::CreateSweepRequest req;
  req.set_spec_yaml(kGridSweep);
  req.set_dry_run(true);
  v1::CreateSweepResponse resp;
  ASSERT_TRUE(h.sweeps().CreateSweep(CoordinatorHarness::Ctx().get(), req, &resp).ok());
  EXPECT_EQ(resp.runs_size(), 4);
  EXPECT_EQ(resp.sweep().id(), 0);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM sweeps"), "0");
}

TEST_F(CoordinatorRpcTest, UnknownIdsAreNotFound) {
  CoordinatorHarness h(db_.url());
  v1::GetSweepRequest g;
  g.set_sweep_id(99);
  v1::Sweep s;
  EXPECT_EQ(h.sweeps().GetSweep(CoordinatorHarness::Ctx().get(), g, &s).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::GetRunRequest r;
  r.set_run_id(99);
  v1::Run run;
  EXPECT_EQ(h.runs().GetRun(CoordinatorHarness::Ctx().get(), r, &run).error_code(),
            grpc::StatusCode::NOT_FOUND);
  v1::ListRunsRequest l;
  l.set_sweep_id(99);
  v1::ListRunsResponse lr;
  EXPECT_EQ(h.runs().ListRuns(CoordinatorHarness::Ctx().get(), l, &lr).error_code(),
            grpc::StatusCode::NOT_FOUND);
}

TEST_F(CoordinatorRpcTest, RegistrationNamesTheBadDeviceField) {
  CoordinatorHarness h(db_.url());
  v1::RegisterWorkerRequest req;
  req.set_name("w");
  auto* d = req.add_devices();
  d->set_kind("tpu");
  d->set_memory_bytes(1);
  v1::RegisterWorkerResponse resp;
  grpc::Status st = h.agent().RegisterWorker(CoordinatorHarness::Ctx().get(), req, &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "devices[0].kind: must be cpu or cuda, got 'tpu'");
}

TEST_F(CoordinatorRpcTest, HealthCheckReportsServing) {
  CoordinatorHarness h(db_.url());
  // grpc.health.v1.Health/Check with an empty service name, as grpcurl would.
  grpc::GenericStub generic(h.channel());
  grpc::ByteBuffer request, response;
  {
    grpc::Slice empty("");
    request = grpc::ByteBuffer(&empty, 1);
  }
  grpc::ClientContext ctx;
  ctx.set_deadline(std::chrono::system_clock::now() + 5s);
  std::mutex mu;
  std::condition_variable cv;
  bool done = false;
  grpc::Status status;
  generic.UnaryCall(&ctx, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                    [&](grpc::Status s) {
                      std::lock_guard<std::mutex> lock(mu);
                      status = s;
                      done = true;
                      cv.notify_one();
                    });
  std::unique_lock<std::mutex> lock(mu);
  cv.wait(lock, [&] { return done; });
  ASSERT_TRUE(status.ok()) << status.error_message();
  std::vector<grpc::Slice> slices;
  ASSERT_TRUE(response.Dump(&slices).ok());
  ASSERT_FALSE(slices.empty());
  // HealthCheckResponse{status: SERVING (1)} is the two bytes 08 01.
  EXPECT_EQ(std::string(reinterpret_cast<const char*>(slices[0].begin()), slices[0].size()),
            std::string("\x08\x01", 2));
}

TEST_F(CoordinatorRpcTest, WatchStreamFollowsASweepToItsEnd) {
  CoordinatorHarness h(db_.url());
  v1::CreateSweepResponse created;
  ASSERT_TRUE(Submit(h, kGridSweep, &created).ok());
  const int64_t w = Register(h.agent(), "w");

  std::vector<v1::SweepEvent> events;
  std::thread watcher([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 30s);
    v1::WatchSweepRequest req;
    req.set_sweep_id(created.sweep().id());
    auto reader = h.sweeps().WatchSweep(&ctx, req);
    v1::SweepEvent e;
    while (reader->Read(&e)) events.push_back(e);
    EXPECT_TRUE(reader->Finish().ok());
  });
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(DrainQueue(h.agent(), w, 3.25), 4);
  watcher.join();
  ASSERT_GE(events.size(), 2u);
  EXPECT_EQ(events.front().runs_size(), 4) << "the first event carries every run";
  EXPECT_EQ(events.front().sweep().state(), v1::SWEEP_STATE_ACTIVE);
  EXPECT_EQ(events.back().sweep().state(), v1::SWEEP_STATE_SUCCEEDED);
  std::set<int> succeeded;
  for (const auto& e : events) {
    for (const auto& r : e.runs()) {
      if (r.state() == v1::RUN_STATE_SUCCEEDED) succeeded.insert(r.ordinal());
    }
  }
  EXPECT_EQ(succeeded.size(), 4u) << "every run's success was streamed";
}

TEST_F(CoordinatorRpcTest, CoordinatorRestartMidSweepLosesNothing) {
  auto first = std::make_unique<CoordinatorHarness>(db_.url());
  v1::CreateSweepResponse created;
  ASSERT_TRUE(Submit(*first,
                     "name: r\nkind: grid\nfamilies: [lstm]\n"
                     "grid: {params: [1e5], tokens: [4096, 8192, 12288, 16384, 20480, 24576]}\n",
                     &created)
                  .ok());
  const int64_t w = Register(first->agent(), "w");
  // Complete three runs, hold a lease on a fourth, then stop the coordinator.
  for (int i = 0; i < 3; ++i) {
    v1::LeaseRunRequest lr;
    lr.set_worker_id(w);
    v1::LeaseRunResponse lease;
    ASSERT_TRUE(first->agent().LeaseRun(CoordinatorHarness::Ctx().get(), lr, &lease).ok());
    v1::CompleteAttemptRequest c;
    c.set_attempt_id(lease.lease().attempt_id());
    c.set_lease_token(lease.lease().lease_token());
    c.set_result_json(PlannedResult(lease.lease(), 2.0));
    v1::CompleteAttemptResponse cr;
    ASSERT_TRUE(first->agent().CompleteAttempt(CoordinatorHarness::Ctx().get(), c, &cr).ok());
  }
  v1::LeaseRunRequest lr;
  lr.set_worker_id(w);
  v1::LeaseRunResponse held;
  ASSERT_TRUE(first->agent().LeaseRun(CoordinatorHarness::Ctx().get(), lr, &held).ok());
  first.reset();

  CoordinatorHarness second(db_.url());
  // The held lease survives the restart: its owner completes it on the new coordinator.
  v1::CompleteAttemptRequest c;
  c.set_attempt_id(held.lease().attempt_id());
  c.set_lease_token(held.lease().lease_token());
  c.set_result_json(PlannedResult(held.lease(), 2.0));
  v1::CompleteAttemptResponse cr;
  ASSERT_TRUE(second.agent().CompleteAttempt(CoordinatorHarness::Ctx().get(), c, &cr).ok());
  EXPECT_EQ(DrainQueue(second.agent(), w, 2.0), 2);
  EXPECT_EQ(
      db_.Query("SELECT count(*) FROM runs WHERE state = 'succeeded' AND final_eval_loss = 2"),
      "6");
  EXPECT_EQ(db_.Query("SELECT state FROM sweeps"), "succeeded");
}

TEST_F(CoordinatorRpcTest, TwoCoordinatorsShareOneDatabaseWithoutDoubleLeasing) {
  CoordinatorHarness a(db_.url());
  CoordinatorHarness b(db_.url());
  std::string tokens;
  for (int i = 0; i < 40; ++i) tokens += (i ? "," : "") + std::to_string(4096 * (i + 1));
  v1::CreateSweepResponse created;
  ASSERT_TRUE(Submit(a,
                     "name: m\nkind: grid\nfamilies: [lstm]\ngrid: {params: [1e5], tokens: [" +
                         tokens + "]}\n",
                     &created)
                  .ok());
  std::vector<int64_t> workers;
  for (int i = 0; i < 6; ++i)
    workers.push_back(Register(i % 2 ? a.agent() : b.agent(), "w" + std::to_string(i)));
  std::atomic<int> completed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back(
        [&, i] { completed += DrainQueue(i % 2 ? a.agent() : b.agent(), workers[i], 1.5); });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(completed.load(), 40);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts"), "40") << "each run leased exactly once";
  // The last two completions can race past each other's end-of-sweep check;
  // the maintenance pass (every 100 ms here) then ends the sweep.
  for (int i = 0; i < 100 && db_.Query("SELECT state FROM sweeps") == "active"; ++i)
    std::this_thread::sleep_for(std::chrono::milliseconds(50));
  EXPECT_EQ(db_.Query("SELECT state FROM sweeps"), "succeeded");
}

TEST_F(CoordinatorRpcTest, WorkerThatStopsHeartbeatingLosesItsLeaseToAnother) {
  CoordinatorHarness h(db_.url());
  v1::CreateSweepResponse created;
  ASSERT_TRUE(
      Submit(h, "name: e\nkind: grid\nfamilies: [lstm]\ngrid: {params: [1e5], tokens: [4096]}\n",
             &created)
          .ok());
  const int64_t dead = Register(h.agent(), "dead");
  const int64_t alive = Register(h.agent(), "alive");
  v1::LeaseRunRequest lr;
  lr.set_worker_id(dead);
  v1::LeaseRunResponse lease;
  ASSERT_TRUE(h.agent().LeaseRun(CoordinatorHarness::Ctx().get(), lr, &lease).ok());
  ASSERT_TRUE(lease.granted());
  // The dead worker never heartbeats; after the 1 s ttl the maintenance loop
  // reclaims the run and the live worker gets it.
  std::this_thread::sleep_for(1500ms);
  EXPECT_EQ(DrainQueue(h.agent(), alive, 2.0), 1);
  EXPECT_EQ(db_.Query("SELECT string_agg(outcome, ',' ORDER BY number) FROM attempts"),
            "expired,succeeded");
}

}  // namespace
}  // namespace ladder

namespace ladder {
namespace {

TEST_F(CoordinatorRpcTest, MetricsEndpointServesSchedulingSeries) {
  CoordinatorHarness h(db_.url());
  v1::CreateSweepResponse created;
  ASSERT_TRUE(Submit(h, kGridSweep, &created).ok());
  const int64_t w = Register(h.agent(), "w");
  EXPECT_EQ(DrainQueue(h.agent(), w, 2.0), 4);
  std::this_thread::sleep_for(300ms);  // a maintenance pass refreshes the gauges
  int status = 0;
  const std::string text =
      testing::HttpGet("127.0.0.1", h.coordinator().metrics_port(), "/metrics", &status);
  ASSERT_EQ(status, 200) << "metrics endpoint unreachable";
  EXPECT_EQ(testing::MetricValue(text, "ladder_leases_total{granted=\"true\"}"), 4) << text;
  EXPECT_GE(testing::MetricValue(text, "ladder_leases_total{granted=\"false\"}"), 1);
  EXPECT_EQ(
      testing::MetricValue(text, "ladder_attempts_ended_total{outcome=\"succeeded\",reason=\"\"}"),
      4);
  EXPECT_EQ(testing::MetricValue(text, "ladder_runs{state=\"succeeded\",sweep=\"" +
                                           std::to_string(created.sweep().id()) + "\"}"),
            4);
  EXPECT_EQ(testing::MetricValue(text, "ladder_queue_depth"), 0);
  EXPECT_EQ(testing::MetricValue(text, "ladder_workers{state=\"active\"}"), 1);
  EXPECT_GE(testing::MetricValue(
                text, "ladder_rpc_duration_seconds_count{code=\"OK\",method=\"Agent.LeaseRun\"}"),
            5);
  EXPECT_EQ(
      testing::MetricValue(
          text, "ladder_rpc_duration_seconds_count{code=\"OK\",method=\"Agent.CompleteAttempt\"}"),
      4);
  testing::HttpGet("127.0.0.1", h.coordinator().metrics_port(), "/nope", &status);
  EXPECT_EQ(status, 404);
}

}  // namespace
}  // namespace ladder
