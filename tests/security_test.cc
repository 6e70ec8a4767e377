// TLS, mutual TLS, worker identity (certificate CN) and bearer-token
// scopes over real TLS sockets; what a plaintext port refuses.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <pqxx/pqxx>
#include <sstream>

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/auth/request_authorizer.h"
#include "server/store/migrations.h"
#include "server/store/pg_pool.h"
#include "server/store/token_store.h"
#include "tests/testing/coordinator_harness.h"
#include "tests/testing/test_database.h"
#include "tests/testing/test_env.h"

namespace ladder {
namespace {

using testing::CoordinatorHarness;

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  std::ostringstream s;
  s << in.rdbuf();
  return s.str();
}

class SecurityTest : public ::testing::Test {
 protected:
  // Certificates are made once per suite run by the `test_certs` ctest
  // fixture (tests/testing/make-test-certs.sh).
  // A missing fixture aborts (a failure), never skips.
  static void SetUpTestSuite() {
    certs_ = testing::TestCertsDir();
    if (ReadFile(certs_ + "/expired-worker.pem").empty()) {
      std::cerr << "FATAL: no test certificates in " << certs_
                << " (made by the test_certs ctest fixture)\n";
      std::abort();
    }
  }

  void SetUp() override {
    store::PgPool::Options po;
    po.url = db_.url();
    po.size = 1;
    auto pool = store::PgPool::Connect(po);
    ASSERT_TRUE(pool.ok());
    ASSERT_TRUE(store::ApplyMigrations(**pool).ok());
    store::TokenStore tokens(pool->get());
    read_ = tokens.Create("reader", {"read"})->secret;
    submit_ = tokens.Create("submitter", {"submit"})->secret;
    auto admin = tokens.Create("admin", {"admin"});
    admin_ = admin->secret;
    admin_id_ = admin->token.id();
    coordinator_ = std::make_unique<CoordinatorHarness>(db_.url(), [](CoordinatorOptions& o) {
      CoordinatorHarness::UseTestTls(o);
      o.token_cache_ttl = std::chrono::milliseconds(0);
      // Leases and workers outlive any test here, however loaded the machine.
      o.lease_ttl = std::chrono::milliseconds(60000);
      o.worker_gone_after = std::chrono::milliseconds(60000);
    });
  }

  // A channel trusting `ca`, presenting `cert` (may be empty).
  std::shared_ptr<grpc::Channel> Channel(const std::string& ca, const std::string& cert = "",
                                         const std::string& key = "") {
    grpc::SslCredentialsOptions o;
    o.pem_root_certs = ReadFile(ca);
    if (!cert.empty()) {
      o.pem_cert_chain = ReadFile(cert);
      o.pem_private_key = ReadFile(key);
    }
    return grpc::CreateChannel("127.0.0.1:" + std::to_string(coordinator_->port()),
                               grpc::SslCredentials(o));
  }
  std::shared_ptr<grpc::Channel> ClientChannel() { return Channel(certs_ + "/ca.pem"); }
  // A worker presenting certs_/worker-`which`.pem ("w1", "w2": CN w1, w2;
  // "pool-pool": CN pool-*).
  std::shared_ptr<grpc::Channel> WorkerChannel(const std::string& which = "w1") {
    return Channel(certs_ + "/ca.pem", certs_ + "/worker-" + which + ".pem",
                   certs_ + "/worker-" + which + "-key.pem");
  }

  static std::unique_ptr<grpc::ClientContext> Ctx(const std::string& token = "") {
    auto c = CoordinatorHarness::Ctx();
    if (!token.empty()) c->AddMetadata("authorization", "Bearer " + token);
    return c;
  }

  grpc::Status ListSweeps(std::shared_ptr<grpc::Channel> ch, const std::string& token) {
    v1::ListSweepsResponse resp;
    return v1::Sweeps::NewStub(ch)->ListSweeps(Ctx(token).get(), v1::ListSweepsRequest(), &resp);
  }
  grpc::Status CreateSweep(const std::string& token) {
    v1::CreateSweepRequest req;
    req.set_spec_yaml(
        "name: s\nkind: grid\nfamilies: [lstm]\ngrid: {params: [1e5], tokens: [4096]}\n");
    v1::CreateSweepResponse resp;
    return v1::Sweeps::NewStub(ClientChannel())->CreateSweep(Ctx(token).get(), req, &resp);
  }
  grpc::Status Register(std::shared_ptr<grpc::Channel> ch, const std::string& token = "",
                        const std::string& name = "w1", int64_t* worker_id = nullptr) {
    v1::RegisterWorkerRequest req;
    req.set_name(name);
    auto* d = req.add_devices();
    d->set_kind("cpu");
    d->set_memory_bytes(int64_t{1} << 34);
    v1::RegisterWorkerResponse resp;
    grpc::Status st = v1::Agent::NewStub(ch)->RegisterWorker(Ctx(token).get(), req, &resp);
    if (worker_id) *worker_id = resp.worker_id();
    return st;
  }

  static std::string certs_;
  testing::TestDatabase db_;
  std::unique_ptr<CoordinatorHarness> coordinator_;
  std::string read_, submit_, admin_;
  int64_t admin_id_ = 0;
};
std::string SecurityTest::certs_;

TEST_F(SecurityTest, MissingTokenIsUnauthenticated) {
  EXPECT_EQ(ListSweeps(ClientChannel(), "").error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SecurityTest, MalformedOrWrongTokenIsUnauthenticated) {
  EXPECT_EQ(ListSweeps(ClientChannel(), "nonsense").error_code(),
            grpc::StatusCode::UNAUTHENTICATED);
  std::string forged = read_;
  forged.back() = forged.back() == '0' ? '1' : '0';
  EXPECT_EQ(ListSweeps(ClientChannel(), forged).error_code(), grpc::StatusCode::UNAUTHENTICATED);
}

TEST_F(SecurityTest, ReadTokenReadsButCannotSubmit) {
  EXPECT_TRUE(ListSweeps(ClientChannel(), read_).ok());
  grpc::Status st = CreateSweep(read_);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_NE(st.error_message().find("needs 'submit'"), std::string::npos) << st.error_message();
  EXPECT_EQ(db_.Query("SELECT count(*) FROM sweeps"), "0");
}

TEST_F(SecurityTest, SubmitTokenSubmitsButIsNotAdmin) {
  EXPECT_TRUE(CreateSweep(submit_).ok());
  v1::ListTokensResponse resp;
  EXPECT_EQ(v1::Admin::NewStub(ClientChannel())
                ->ListTokens(Ctx(submit_).get(), v1::ListTokensRequest(), &resp)
                .error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SecurityTest, AdminCreatesAndRevokesTokensAndARevokedTokenStopsWorking) {
  auto admin = v1::Admin::NewStub(ClientChannel());
  v1::CreateTokenRequest create;
  create.set_name("ci");
  create.add_scopes("read");
  v1::CreateTokenResponse created;
  ASSERT_TRUE(admin->CreateToken(Ctx(admin_).get(), create, &created).ok());
  EXPECT_TRUE(ListSweeps(ClientChannel(), created.secret()).ok());
  // Only a salted hash is stored: the secret appears nowhere in the database.
  const std::string secret_part = created.secret().substr(created.secret().rfind('_') + 1);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM api_tokens WHERE encode(hash, 'hex') = '" +
                      secret_part + "' OR encode(salt, 'hex') = '" + secret_part + "'"),
            "0");
  v1::RevokeTokenRequest revoke;
  revoke.set_token_id(created.token().id());
  v1::Token revoked;
  ASSERT_TRUE(admin->RevokeToken(Ctx(admin_).get(), revoke, &revoked).ok());
  EXPECT_GT(revoked.revoked_unix_ms(), 0);
  grpc::Status st = ListSweeps(ClientChannel(), created.secret());
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(st.error_message().find("revoked"), std::string::npos);
}

TEST_F(SecurityTest, CreatingATokenWithAnUnknownScopeNamesTheField) {
  v1::CreateTokenRequest create;
  create.set_name("x");
  create.add_scopes("read");
  create.add_scopes("root");
  v1::CreateTokenResponse created;
  grpc::Status st =
      v1::Admin::NewStub(ClientChannel())->CreateToken(Ctx(admin_).get(), create, &created);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("scopes[1]"), std::string::npos) << st.error_message();
}

TEST_F(SecurityTest, WorkerCertificateReachesTheAgentServiceOnly) {
  EXPECT_TRUE(Register(WorkerChannel()).ok());
  v1::ListTokensResponse resp;
  grpc::Status st =
      v1::Admin::NewStub(WorkerChannel())->ListTokens(Ctx().get(), v1::ListTokensRequest(), &resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  v1::DrainWorkerRequest drain;
  drain.set_worker_id(1);
  v1::Worker w;
  EXPECT_EQ(v1::Workers::NewStub(WorkerChannel())->DrainWorker(Ctx().get(), drain, &w).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
}

TEST_F(SecurityTest, AgentServiceRefusesTokensWithoutAWorkerCertificate) {
  grpc::Status st = Register(ClientChannel(), admin_);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED);
  EXPECT_NE(st.error_message().find("client certificate"), std::string::npos);
}

TEST_F(SecurityTest, CertificateFromAnotherCaIsRefused) {
  auto rogue = Channel(certs_ + "/ca.pem", certs_ + "/rogue/worker-w1.pem",
                       certs_ + "/rogue/worker-w1-key.pem");
  grpc::Status st = Register(rogue);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAVAILABLE) << st.error_message();
  EXPECT_EQ(db_.Query("SELECT count(*) FROM workers"), "0");
}

TEST_F(SecurityTest, ExpiredWorkerCertificateIsRefused) {
  auto expired = Channel(certs_ + "/ca.pem", certs_ + "/expired-worker.pem",
                         certs_ + "/expired-worker-key.pem");
  EXPECT_EQ(Register(expired).error_code(), grpc::StatusCode::UNAVAILABLE);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM workers"), "0");
}

TEST_F(SecurityTest, ClientThatDoesNotTrustTheServerCaCannotConnect) {
  EXPECT_EQ(ListSweeps(Channel(certs_ + "/rogue/ca.pem"), admin_).error_code(),
            grpc::StatusCode::UNAVAILABLE);
}

TEST_F(SecurityTest, PlaintextClientCannotTalkToTheTlsPort) {
  auto plain = grpc::CreateChannel("127.0.0.1:" + std::to_string(coordinator_->port()),
                                   grpc::InsecureChannelCredentials());
  EXPECT_EQ(ListSweeps(plain, admin_).error_code(), grpc::StatusCode::UNAVAILABLE);
}

bool Mentions(const grpc::Status& st, const std::string& text) {
  return st.error_message().find(text) != std::string::npos;
}

// A certificate signed by the cluster CA used to register any name: worker
// w2's certificate re-registered w1, which orphaned w1's live attempts.
TEST_F(SecurityTest, AWorkerCertificateRegistersOnlyTheNameInItsCn) {
  int64_t w1 = 0;
  ASSERT_TRUE(Register(WorkerChannel("w1"), "", "w1", &w1).ok());
  grpc::Status st = Register(WorkerChannel("w2"), "", "w1");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_TRUE(Mentions(st, "name: must equal the client certificate's CN 'w2'"))
      << st.error_message();
  EXPECT_TRUE(Register(WorkerChannel("w2"), "", "w2").ok());
  st = Register(WorkerChannel("w2"), "", "");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << st.error_message();
  EXPECT_TRUE(Mentions(st, "name: must not be empty")) << st.error_message();
  // A pool certificate (CN "pool-*") covers the names under its prefix only.
  EXPECT_TRUE(Register(WorkerChannel("pool-pool"), "", "pool-a").ok());
  st = Register(WorkerChannel("pool-pool"), "", "w1");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_TRUE(Mentions(st, "name: must start with 'pool-'")) << st.error_message();
  EXPECT_EQ(db_.Query("SELECT string_agg(name, ',' ORDER BY name) FROM workers"), "pool-a,w1,w2");
  EXPECT_EQ(db_.Query("SELECT registered_at = (SELECT min(registered_at) FROM workers) FROM "
                      "workers WHERE id = " +
                      std::to_string(w1)),
            "t");
}

TEST_F(SecurityTest, AWorkerCertificateCannotActForAnotherWorkersIdOrAttempts) {
  int64_t w1 = 0, w2 = 0;
  ASSERT_TRUE(Register(WorkerChannel("w1"), "", "w1", &w1).ok());
  ASSERT_TRUE(Register(WorkerChannel("w2"), "", "w2", &w2).ok());
  ASSERT_TRUE(CreateSweep(submit_).ok());
  auto agent1 = v1::Agent::NewStub(WorkerChannel("w1"));
  auto agent2 = v1::Agent::NewStub(WorkerChannel("w2"));

  v1::LeaseRunRequest lease_req;
  lease_req.set_worker_id(w1);
  v1::LeaseRunResponse lease;
  grpc::Status st = agent2->LeaseRun(Ctx().get(), lease_req, &lease);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_TRUE(Mentions(st, "worker_id: worker " + std::to_string(w1) + " is 'w1'"))
      << st.error_message();
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts"), "0");
  ASSERT_TRUE(agent1->LeaseRun(Ctx().get(), lease_req, &lease).ok());
  ASSERT_TRUE(lease.granted());
  const int64_t attempt = lease.lease().attempt_id();
  const std::string token = lease.lease().lease_token();

  v1::HeartbeatRequest hb;
  hb.set_worker_id(w1);
  auto* live = hb.add_attempts();
  live->set_attempt_id(attempt);
  live->set_lease_token(token);
  v1::HeartbeatResponse hb_resp;
  EXPECT_EQ(agent2->Heartbeat(Ctx().get(), hb, &hb_resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  v1::ReportProgressRequest progress;
  progress.set_attempt_id(attempt);
  progress.set_lease_token(token);
  v1::ReportProgressResponse progress_resp;
  st = agent2->ReportProgress(Ctx().get(), progress, &progress_resp);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_TRUE(Mentions(st, "attempt_id: attempt " + std::to_string(attempt))) << st.error_message();

  v1::CompleteAttemptRequest complete;
  complete.set_attempt_id(attempt);
  complete.set_lease_token(token);
  v1::CompleteAttemptResponse complete_resp;
  EXPECT_EQ(agent2->CompleteAttempt(Ctx().get(), complete, &complete_resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  v1::FailAttemptRequest fail;
  fail.set_attempt_id(attempt);
  fail.set_lease_token(token);
  fail.set_reason("trainer_crashed");
  fail.set_message("not mine to fail");
  v1::FailAttemptResponse fail_resp;
  EXPECT_EQ(agent2->FailAttempt(Ctx().get(), fail, &fail_resp).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);

  // w1's attempt is untouched and w1 itself still acts on it.
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome IS NULL AND id = " +
                      std::to_string(attempt)),
            "1");
  st = agent1->Heartbeat(Ctx().get(), hb, &hb_resp);
  EXPECT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(hb_resp.revoked_attempt_ids_size(), 0);
  // w2 still acts for itself.
  v1::HeartbeatRequest hb2;
  hb2.set_worker_id(w2);
  EXPECT_TRUE(agent2->Heartbeat(Ctx().get(), hb2, &hb_resp).ok());
}

// A plaintext (loopback) coordinator authenticates nobody, so it must not
// mint tokens that the TLS coordinators sharing its database would honour.
TEST_F(SecurityTest, APlaintextPortRefusesAdminCalls) {
  CoordinatorHarness plain(db_.url());  // --insecure-plaintext
  auto admin = v1::Admin::NewStub(plain.channel());
  v1::CreateTokenRequest create;
  create.set_name("minted");
  create.add_scopes("admin");
  v1::CreateTokenResponse created;
  grpc::Status st = admin->CreateToken(Ctx().get(), create, &created);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_TRUE(Mentions(st, "plaintext port")) << st.error_message();
  EXPECT_TRUE(created.secret().empty());
  EXPECT_EQ(db_.Query("SELECT count(*) FROM api_tokens WHERE name = 'minted'"), "0");
  // Sending a real admin token does not help: nothing checks it there.
  EXPECT_EQ(admin->CreateToken(Ctx(admin_).get(), create, &created).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::ListTokensResponse listed;
  EXPECT_EQ(admin->ListTokens(Ctx().get(), v1::ListTokensRequest(), &listed).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  v1::RevokeTokenRequest revoke;
  revoke.set_token_id(admin_id_);
  v1::Token revoked;
  EXPECT_EQ(admin->RevokeToken(Ctx().get(), revoke, &revoked).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM api_tokens WHERE revoked_at IS NOT NULL"), "0");

  // Workers on plaintext have no identity (with --plaintext-workers, as
  // here, any name registers); draining one is an admin call and is refused.
  int64_t worker = 0;
  ASSERT_TRUE(Register(plain.channel(), "", "anyone", &worker).ok());
  v1::DrainWorkerRequest drain;
  drain.set_worker_id(worker);
  v1::Worker w;
  st = plain.workers().DrainWorker(Ctx().get(), drain, &w);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_EQ(db_.Query("SELECT state FROM workers WHERE id = " + std::to_string(worker)), "active");
  // Reads still work there.
  EXPECT_TRUE(ListSweeps(plain.channel(), "").ok());
  // The TLS port still serves admin calls with an admin token.
  EXPECT_TRUE(v1::Admin::NewStub(ClientChannel())
                  ->ListTokens(Ctx(admin_).get(), v1::ListTokensRequest(), &listed)
                  .ok());
}

// Without --plaintext-workers a plaintext port serves no worker calls at
// all: a local process could otherwise register as any worker of the TLS
// coordinators sharing the database and end that worker's live attempts.
TEST_F(SecurityTest, APlaintextPortRefusesWorkerCallsUnlessAskedTo) {
  int64_t victim = 0;
  ASSERT_TRUE(Register(WorkerChannel("w1"), "", "w1", &victim).ok());
  CoordinatorHarness plain(db_.url(), [](CoordinatorOptions& o) { o.plaintext_workers = false; });
  grpc::Status st = Register(plain.channel(), "", "w1");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::PERMISSION_DENIED) << st.error_message();
  EXPECT_TRUE(Mentions(st, "--plaintext-workers")) << st.error_message();
  v1::HeartbeatRequest hb;
  hb.set_worker_id(victim);
  v1::HeartbeatResponse hr;
  EXPECT_EQ(plain.agent().Heartbeat(Ctx().get(), hb, &hr).error_code(),
            grpc::StatusCode::PERMISSION_DENIED);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM workers"), "1");
  // Reads still work there.
  EXPECT_TRUE(ListSweeps(plain.channel(), "").ok());
}

// Refused tokens used to cost a database transaction each, every time.
TEST_F(SecurityTest, RefusedTokensAreCachedAndMalformedOnesNeverReachTheDatabase) {
  store::PgPool::Options po;
  po.url = db_.url();
  po.size = 1;
  auto pool = store::PgPool::Connect(po);
  ASSERT_TRUE(pool.ok());
  store::TokenStore tokens(pool->get());
  RequestAuthorizer authorizer(&tokens, std::chrono::minutes(10));
  auto code = [&](const std::string& bearer) {
    return authorizer.VerifyCached(bearer).status().code();
  };

  const std::string unknown = "ladder_987654_" + std::string(64, 'a');
  for (int i = 0; i < 20; ++i) EXPECT_EQ(code(unknown), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(tokens.verify_lookups(), 1);

  std::string forged = read_;
  forged.back() = forged.back() == '0' ? '1' : '0';
  for (int i = 0; i < 20; ++i) EXPECT_EQ(code(forged), absl::StatusCode::kUnauthenticated);
  EXPECT_EQ(tokens.verify_lookups(), 2);

  for (const std::string& malformed :
       {std::string("nonsense"), "ladder_1_" + std::string(64, 'Z'),
        "ladder__" + std::string(64, 'a'), "ladder_1_" + std::string(63, 'a'),
        "ladder_1234567890123456789_" + std::string(64, 'a'), "ladder_-1_" + std::string(64, 'a'),
        "Ladder_1_" + std::string(64, 'a')}) {
    EXPECT_EQ(code(malformed), absl::StatusCode::kUnauthenticated) << malformed;
  }
  EXPECT_EQ(tokens.verify_lookups(), 2);

  // Good tokens are still verified (once), refusals did not evict them.
  EXPECT_TRUE(authorizer.VerifyCached(read_).ok());
  EXPECT_TRUE(authorizer.VerifyCached(read_).ok());
  EXPECT_EQ(tokens.verify_lookups(), 3);
}

// The same through a TLS coordinator: while api_tokens is locked, a token
// refused before, or a malformed one, is refused at once, without waiting
// for the database.
TEST_F(SecurityTest, ARepeatedBadTokenIsRefusedWithoutTheDatabase) {
  CoordinatorHarness cached(db_.url(), [](CoordinatorOptions& o) {
    CoordinatorHarness::UseTestTls(o);
    o.token_cache_ttl = std::chrono::minutes(10);
  });
  grpc::SslCredentialsOptions ssl;
  ssl.pem_root_certs = ReadFile(certs_ + "/ca.pem");
  auto ch = grpc::CreateChannel(cached.address(), grpc::SslCredentials(ssl));
  const std::string unknown = "ladder_987654_" + std::string(64, 'b');
  EXPECT_EQ(ListSweeps(ch, unknown).error_code(), grpc::StatusCode::UNAUTHENTICATED);

  pqxx::connection conn(db_.url());
  pqxx::work lock(conn);
  lock.exec0("LOCK TABLE api_tokens IN ACCESS EXCLUSIVE MODE");
  grpc::Status st = ListSweeps(ch, unknown);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  st = ListSweeps(ch, "ladder_1_" + std::string(64, 'Z'));
  EXPECT_EQ(st.error_code(), grpc::StatusCode::UNAUTHENTICATED) << st.error_message();
  lock.abort();
}

// gRPC keeps the authorizer's token-id property on the connection: calls
// with one token must not pile it up, and a connection that keeps changing
// tokens is told to reconnect rather than grow without bound.
TEST_F(SecurityTest, ATokenIdIsKeptOncePerConnectionNotOncePerCall) {
  auto ch = ClientChannel();
  for (int i = 0; i < 200; ++i) ASSERT_TRUE(ListSweeps(ch, read_).ok()) << "call " << i;
  int switches = 0;
  grpc::Status st;
  for (; switches < 200; ++switches) {
    st = ListSweeps(ch, switches % 2 == 0 ? submit_ : read_);
    if (!st.ok()) break;
  }
  EXPECT_EQ(st.error_code(), grpc::StatusCode::RESOURCE_EXHAUSTED) << st.error_message();
  EXPECT_NE(st.error_message().find("new connection"), std::string::npos) << st.error_message();
  EXPECT_GE(switches, 60) << "the 200 calls with one token must not have counted";
  EXPECT_TRUE(ListSweeps(ClientChannel(), read_).ok()) << "a new connection starts afresh";
}

}  // namespace
}  // namespace ladder
