// AgentClient over real sockets: results come back on the io_context,
// deadlines hold, and channels built by common/channel_options speak TLS,
// mutual TLS and bearer tokens to a server that demands them.
#include "worker/agent_client.h"

#include <grpcpp/security/server_credentials.h>
#include <gtest/gtest.h>

#include <boost/asio/io_context.hpp>
#include <cstdlib>
#include <thread>

#include "common/channel_options.h"
#include "worker/testing/fake_agent.h"
#include "worker/testing/test_configs.h"

namespace ladder::worker {
namespace {

using namespace std::chrono_literals;
using testing::FakeAgent;

// Runs one RegisterWorker through `channel` and returns its status.
grpc::Status Register(std::shared_ptr<grpc::Channel> channel, int64_t* worker_id = nullptr) {
  boost::asio::io_context io;
  AgentClient client(io, std::move(channel), 5s);
  std::optional<grpc::Status> result;
  const auto caller = std::this_thread::get_id();
  v1::RegisterWorkerRequest request;
  request.set_name("tls-worker");
  client.RegisterWorker(request, [&](const grpc::Status& status, v1::RegisterWorkerResponse r) {
    EXPECT_EQ(std::this_thread::get_id(), caller);  // delivered on the io_context's thread
    result = status;
    if (worker_id != nullptr) *worker_id = r.worker_id();
  });
  io.run();  // returns once the call is done: it held the loop's work until then
  EXPECT_TRUE(result.has_value());
  return result.value_or(grpc::Status(grpc::StatusCode::INTERNAL, "no result"));
}

TEST(AgentClientTest, DeliversResultsOnTheLoopAndKeepsItBusyMeanwhile) {
  FakeAgent agent;
  agent.Start();
  ChannelOptions o;
  o.address = agent.address();
  o.insecure = true;
  int64_t id = 0;
  EXPECT_TRUE(Register(*MakeChannel(o), &id).ok());
  EXPECT_EQ(id, 1);
}

TEST(AgentClientTest, ADownCoordinatorIsUnavailableWithinTheDeadline) {
  FakeAgent agent;
  agent.Start();
  const std::string address = agent.address();
  agent.Stop();
  ChannelOptions o;
  o.address = address;
  o.insecure = true;
  const auto start = std::chrono::steady_clock::now();
  const grpc::Status status = Register(*MakeChannel(o));
  EXPECT_EQ(status.error_code(), grpc::StatusCode::UNAVAILABLE) << DescribeStatus(status);
  EXPECT_TRUE(IsRetryable(status));
  EXPECT_LT(std::chrono::steady_clock::now() - start, 5s);
}

class AgentClientTlsTest : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    dir_ = new testing::TempDir();
    const std::string d = dir_->path();
    // A throwaway CA, a server certificate for 127.0.0.1 and a client certificate.
    const std::string script =
        "cd " + d +
        " && exec >openssl.log 2>&1 && set -e && "
        "openssl req -x509 -newkey rsa:2048 -nodes -keyout ca.key -out ca.pem -days 2 "
        "  -subj /CN=ladder-test-ca && "
        "printf 'subjectAltName=DNS:localhost,IP:127.0.0.1\\n' > san.ext && "
        "for who in server client; do "
        "  openssl req -newkey rsa:2048 -nodes -keyout $who.key -out $who.csr -subj /CN=$who && "
        "  openssl x509 -req -in $who.csr -CA ca.pem -CAkey ca.key -CAcreateserial -days 2 "
        "    -extfile san.ext -out $who.pem; "
        "done";
    ok_ = std::system(script.c_str()) == 0;
  }
  static void TearDownTestSuite() { delete dir_; }

  void SetUp() override {
    // Missing certificates are a failure, never a skip.
    ASSERT_TRUE(ok_) << "openssl could not make certificates: "
                     << testing::ReadFile(dir_->path() + "/openssl.log");
  }

  std::string File(const std::string& name) { return testing::ReadFile(dir_->path() + "/" + name); }
  std::string Path(const std::string& name) { return dir_->path() + "/" + name; }

  std::shared_ptr<grpc::ServerCredentials> ServerCredentials(bool require_client_cert) {
    grpc::SslServerCredentialsOptions ssl(
        require_client_cert ? GRPC_SSL_REQUEST_AND_REQUIRE_CLIENT_CERTIFICATE_AND_VERIFY
                            : GRPC_SSL_DONT_REQUEST_CLIENT_CERTIFICATE);
    ssl.pem_root_certs = File("ca.pem");
    ssl.pem_key_cert_pairs.push_back({File("server.key"), File("server.pem")});
    return grpc::SslServerCredentials(ssl);
  }

  static testing::TempDir* dir_;
  static bool ok_;
};
testing::TempDir* AgentClientTlsTest::dir_ = nullptr;
bool AgentClientTlsTest::ok_ = false;

TEST_F(AgentClientTlsTest, TlsWithABearerToken) {
  FakeAgent::Options options;
  options.credentials = ServerCredentials(false);
  FakeAgent agent(options);
  agent.Start();
  ChannelOptions o;
  o.address = agent.address();
  o.tls_ca_file = Path("ca.pem");
  o.bearer_token = "tok-123";
  const grpc::Status status = Register(*MakeChannel(o));
  EXPECT_TRUE(status.ok()) << DescribeStatus(status);
  EXPECT_EQ(agent.last_authorization(), "Bearer tok-123");
}

TEST_F(AgentClientTlsTest, MutualTlsNeedsTheClientCertificate) {
  FakeAgent::Options options;
  options.credentials = ServerCredentials(true);
  FakeAgent agent(options);
  agent.Start();
  ChannelOptions o;
  o.address = agent.address();
  o.tls_ca_file = Path("ca.pem");
  EXPECT_FALSE(Register(*MakeChannel(o)).ok());  // no client certificate
  o.tls_cert_file = Path("client.pem");
  o.tls_key_file = Path("client.key");
  const grpc::Status status = Register(*MakeChannel(o));
  EXPECT_TRUE(status.ok()) << DescribeStatus(status);
}

TEST_F(AgentClientTlsTest, AnUntrustedServerIsRefused) {
  FakeAgent::Options options;
  options.credentials = ServerCredentials(false);
  FakeAgent agent(options);
  agent.Start();
  ChannelOptions o;
  o.address = agent.address();
  o.tls_ca_file = Path("client.pem");  // not the CA that signed the server
  EXPECT_EQ(Register(*MakeChannel(o)).error_code(), grpc::StatusCode::UNAVAILABLE);
}

}  // namespace
}  // namespace ladder::worker
