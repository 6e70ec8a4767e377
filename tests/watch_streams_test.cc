// WatchSweep streams over real sockets with a real PostgreSQL: open streams
// hold no thread of the sync RPC pool (the Agent service keeps serving
// heartbeats and leases), and streams are capped per client and in total.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <fstream>
#include <iostream>
#include <sstream>
#include <thread>

#include "server/store/migrations.h"
#include "server/store/pg_pool.h"
#include "server/store/token_store.h"
#include "tests/testing/coordinator_harness.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_env.h"

namespace ladder {
namespace {

using testing::CoordinatorHarness;
using namespace std::chrono_literals;

// Four runs; nobody completes them unless the test does, so the sweep stays
// active and its watchers stay open.
constexpr char kGridSweep[] =
    "name: watch\nkind: grid\nfamilies: [transformer, lstm]\ngrid: {params: [1e5], tokens: [4096, "
    "8192]}\n";

// One client-side WatchSweep call.
struct OpenWatch {
  grpc::ClientContext ctx;
  std::unique_ptr<grpc::ClientReader<v1::SweepEvent>> reader;
  v1::SweepEvent first;
  bool serving = false;  // the first event arrived

  // Cancels the call and returns its status (CANCELLED for a served one).
  grpc::Status Close() {
    ctx.TryCancel();
    v1::SweepEvent e;
    while (reader->Read(&e)) {
    }
    return reader->Finish();
  }
};

// Opens a watch of `sweep` and waits for its first event (the sweep's
// state, sent at once) or for its refusal; `status` is set when refused.
std::unique_ptr<OpenWatch> Watch(v1::Sweeps::Stub& sweeps, int64_t sweep,
                                 const std::string& token = "", grpc::Status* status = nullptr) {
  auto w = std::make_unique<OpenWatch>();
  w->ctx.set_deadline(std::chrono::system_clock::now() + 120s);
  if (!token.empty()) w->ctx.AddMetadata("authorization", "Bearer " + token);
  v1::WatchSweepRequest req;
  req.set_sweep_id(sweep);
  w->reader = sweeps.WatchSweep(&w->ctx, req);
  w->serving = w->reader->Read(&w->first);
  if (!w->serving) {
    grpc::Status st = w->reader->Finish();
    if (status) *status = st;
  }
  return w;
}

class WatchStreamsTest : public ::testing::Test {
 protected:
  int64_t Submit(CoordinatorHarness& h) {
    v1::CreateSweepRequest req;
    req.set_spec_yaml(kGridSweep);
    v1::CreateSweepResponse resp;
    grpc::Status st = h.sweeps().CreateSweep(CoordinatorHarness::Ctx().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return resp.sweep().id();
  }

  testing::TestDatabase db_;
};

TEST_F(WatchStreamsTest, MoreStreamsThanRpcThreadsLeaveHeartbeatsAndLeasesServed) {
  constexpr int kRpcThreads = 4;
  constexpr int kStreams = 3 * kRpcThreads;
  CoordinatorHarness h(db_.url(), [](CoordinatorOptions& o) {
    o.rpc_threads = kRpcThreads;
    o.max_watch_streams_per_client = 64;
    o.max_watch_streams = 64;
    o.lease_ttl = 30s;  // the test is about refusals, not about timing
    o.worker_gone_after = 60s;
  });
  const int64_t sweep = Submit(h);

  std::vector<std::unique_ptr<OpenWatch>> watches;
  for (int i = 0; i < kStreams; ++i) {
    grpc::Status refused;
    watches.push_back(Watch(h.sweeps(), sweep, "", &refused));
    ASSERT_TRUE(watches.back()->serving)
        << "stream " << i << ": " << refused.error_code() << ": " << refused.error_message();
    EXPECT_EQ(watches.back()->first.runs_size(), 4) << "the first event carries every run";
  }

  // With every stream open, the worker protocol is served: register, lease,
  // heartbeat (the lease stays live).
  int64_t worker = 0;
  ASSERT_TRUE(h.RegisterCpuWorker("w", &worker).ok());
  v1::LeaseRunRequest lr;
  lr.set_worker_id(worker);
  v1::LeaseRunResponse lease;
  grpc::Status st = h.agent().LeaseRun(CoordinatorHarness::Ctx().get(), lr, &lease);
  ASSERT_TRUE(st.ok()) << st.error_code() << ": " << st.error_message();
  ASSERT_TRUE(lease.granted());
  for (int i = 0; i < 3; ++i) {
    v1::HeartbeatRequest hb;
    hb.set_worker_id(worker);
    auto* live = hb.add_attempts();
    live->set_attempt_id(lease.lease().attempt_id());
    live->set_lease_token(lease.lease().lease_token());
    v1::HeartbeatResponse hr;
    st = h.agent().Heartbeat(CoordinatorHarness::Ctx().get(), hb, &hr);
    ASSERT_TRUE(st.ok()) << "heartbeat " << i << ": " << st.error_code() << ": "
                         << st.error_message();
    EXPECT_EQ(hr.revoked_attempt_ids_size(), 0);
  }

  // Every stream is still polled: each one reports the run's lease.
  for (int i = 0; i < kStreams; ++i) {
    bool seen = false;
    v1::SweepEvent e;
    while (!seen && watches[i]->reader->Read(&e)) {
      for (const auto& r : e.runs()) {
        if (r.id() == lease.lease().run_id() && r.attempts() == 1) seen = true;
      }
    }
    EXPECT_TRUE(seen) << "stream " << i << " saw the run leased";
  }
  for (auto& w : watches) EXPECT_EQ(w->Close().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(WatchStreamsTest, StreamsBeyondThePerPeerCapAreRefusedUntilOneCloses) {
  CoordinatorHarness h(db_.url(), [](CoordinatorOptions& o) {
    o.max_watch_streams_per_client = 2;
    o.max_watch_streams = 10;
  });
  const int64_t sweep = Submit(h);
  auto a = Watch(h.sweeps(), sweep);
  auto b = Watch(h.sweeps(), sweep);
  ASSERT_TRUE(a->serving);
  ASSERT_TRUE(b->serving);

  grpc::Status refused;
  auto c = Watch(h.sweeps(), sweep, "", &refused);
  EXPECT_FALSE(c->serving);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("too many watch streams for peer 127.0.0.1 (the cap is "
                                         "2, --max-watch-streams-per-client)"),
            std::string::npos)
      << refused.error_message();

  // A closed stream frees its place (once the server has let go of it).
  EXPECT_EQ(a->Close().error_code(), grpc::StatusCode::CANCELLED);
  std::unique_ptr<OpenWatch> again;
  for (int i = 0; i < 400; ++i) {
    again = Watch(h.sweeps(), sweep);
    if (again->serving) break;
    std::this_thread::sleep_for(25ms);
  }
  EXPECT_TRUE(again->serving);
  EXPECT_EQ(again->Close().error_code(), grpc::StatusCode::CANCELLED);
  EXPECT_EQ(b->Close().error_code(), grpc::StatusCode::CANCELLED);
}

TEST_F(WatchStreamsTest, CoordinatorShutdownEndsOpenStreams) {
  CoordinatorHarness h(db_.url());
  const int64_t sweep = Submit(h);
  auto a = Watch(h.sweeps(), sweep);
  auto b = Watch(h.sweeps(), sweep);
  ASSERT_TRUE(a->serving);
  ASSERT_TRUE(b->serving);
  h.Stop();  // returns only once the streams are finished
  for (auto* w : {a.get(), b.get()}) {
    v1::SweepEvent e;
    while (w->reader->Read(&e)) {
    }
    const grpc::Status st = w->reader->Finish();
    EXPECT_TRUE(st.error_code() == grpc::StatusCode::UNAVAILABLE ||
                st.error_code() == grpc::StatusCode::CANCELLED)
        << st.error_code() << ": " << st.error_message();
  }
}

TEST_F(WatchStreamsTest, StreamsAreCappedPerBearerTokenAndInTotal) {
  const std::string certs = testing::TestCertsDir();
  std::string reader_a, reader_b;
  int64_t reader_a_id = 0;
  {
    store::PgPool::Options po;
    po.url = db_.url();
    po.size = 1;
    auto pool = store::PgPool::Connect(po);
    ASSERT_TRUE(pool.ok());
    ASSERT_TRUE(store::ApplyMigrations(**pool).ok());
    store::TokenStore tokens(pool->get());
    auto a = tokens.Create("reader a", {"read"});
    ASSERT_TRUE(a.ok());
    reader_a = a->secret;
    reader_a_id = a->token.id();
    reader_b = tokens.Create("submitter b", {"submit"})->secret;
  }
  CoordinatorHarness h(db_.url(), [&](CoordinatorOptions& o) {
    CoordinatorHarness::UseTestTls(o);
    o.max_watch_streams_per_client = 2;
    o.max_watch_streams = 3;
  });
  auto read_file = [](const std::string& path) {
    std::ifstream in(path);
    std::ostringstream s;
    s << in.rdbuf();
    return s.str();
  };
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = read_file(certs + "/ca.pem");
  ASSERT_FALSE(ssl.pem_root_certs.empty()) << "no test certificates in " << certs;
  auto sweeps = v1::Sweeps::NewStub(
      grpc::CreateChannel("127.0.0.1:" + std::to_string(h.port()), grpc::SslCredentials(ssl)));
  int64_t sweep = 0;
  {
    v1::CreateSweepRequest req;
    req.set_spec_yaml(kGridSweep);
    v1::CreateSweepResponse resp;
    auto ctx = CoordinatorHarness::Ctx();
    ctx->AddMetadata("authorization", "Bearer " + reader_b);
    grpc::Status st = sweeps->CreateSweep(ctx.get(), req, &resp);
    ASSERT_TRUE(st.ok()) << st.error_message();
    sweep = resp.sweep().id();
  }

  auto a1 = Watch(*sweeps, sweep, reader_a);
  auto a2 = Watch(*sweeps, sweep, reader_a);
  ASSERT_TRUE(a1->serving);
  ASSERT_TRUE(a2->serving);
  grpc::Status refused;
  auto a3 = Watch(*sweeps, sweep, reader_a, &refused);
  EXPECT_FALSE(a3->serving);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  // Keyed by the token of this call, not by the one that created the sweep
  // earlier on the same connection.
  EXPECT_NE(refused.error_message().find("too many watch streams for token " +
                                         std::to_string(reader_a_id) +
                                         " (the cap is 2, --max-watch-streams-per-client)"),
            std::string::npos)
      << refused.error_message();

  // Another token has its own per-client allowance, up to the total cap.
  auto b1 = Watch(*sweeps, sweep, reader_b);
  ASSERT_TRUE(b1->serving);
  auto b2 = Watch(*sweeps, sweep, reader_b, &refused);
  EXPECT_FALSE(b2->serving);
  EXPECT_EQ(refused.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED);
  EXPECT_NE(refused.error_message().find("too many watch streams open on this coordinator (the "
                                         "cap is 3, --max-watch-streams)"),
            std::string::npos)
      << refused.error_message();

  for (auto* w : {a1.get(), a2.get(), b1.get()}) {
    EXPECT_EQ(w->Close().error_code(), grpc::StatusCode::CANCELLED);
  }
}

}  // namespace
}  // namespace ladder
