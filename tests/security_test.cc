// TLS, mutual TLS and bearer-token scopes over real TLS sockets.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>
#include <unistd.h>

#include <cstdlib>
#include <fstream>
#include <iostream>
#include <sstream>

#include "ladder/v1/ladder.grpc.pb.h"
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
      o.insecure_plaintext = false;
      o.tls_cert = certs_ + "/server.pem";
      o.tls_key = certs_ + "/server-key.pem";
      o.tls_client_ca = certs_ + "/ca.pem";
      o.token_cache_ttl = std::chrono::milliseconds(0);
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
  std::shared_ptr<grpc::Channel> WorkerChannel() {
    return Channel(certs_ + "/ca.pem", certs_ + "/worker-w1.pem", certs_ + "/worker-w1-key.pem");
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
  grpc::Status Register(std::shared_ptr<grpc::Channel> ch, const std::string& token = "") {
    v1::RegisterWorkerRequest req;
    req.set_name("w1");
    auto* d = req.add_devices();
    d->set_kind("cpu");
    d->set_memory_bytes(1 << 30);
    v1::RegisterWorkerResponse resp;
    return v1::Agent::NewStub(ch)->RegisterWorker(Ctx(token).get(), req, &resp);
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

}  // namespace
}  // namespace ladder
