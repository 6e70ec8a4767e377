#include "common/channel_options.h"

#include <grpcpp/generic/async_generic_service.h>
#include <grpcpp/generic/generic_stub.h>
#include <grpcpp/grpcpp.h>
#include <grpcpp/health_check_service_interface.h>
#include <gtest/gtest.h>

#include <chrono>
#include <future>
#include <string>
#include <vector>

namespace ladder {
namespace {

// A gRPC server on a free loopback port whose only service is gRPC's
// built-in health check, answering SERVING or NOT_SERVING: two of them tell
// apart which one a channel reached.
struct HealthServer {
  explicit HealthServer(bool serving) {
    grpc::EnableDefaultHealthCheckService(true);
    grpc::ServerBuilder builder;
    builder.AddListeningPort("127.0.0.1:0", grpc::InsecureServerCredentials(), &port);
    builder.RegisterCallbackGenericService(&unimplemented);  // a server needs one service
    server = builder.BuildAndStart();
    server->GetHealthCheckService()->SetServingStatus(serving);
  }
  std::string address() const { return "127.0.0.1:" + std::to_string(port); }
  int port = 0;
  grpc::CallbackGenericService unimplemented;  // answers UNIMPLEMENTED to all else
  std::unique_ptr<grpc::Server> server;
};

// grpc.health.v1.Health/Check over `channel`: "SERVING", "NOT_SERVING", or
// the call's error. Waits for a connection (wait_for_ready), 20 s at most.
std::string HealthOf(const std::shared_ptr<grpc::Channel>& channel) {
  grpc::GenericStub stub(channel);
  grpc::ClientContext context;
  context.set_wait_for_ready(true);
  context.set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(20));
  grpc::Slice empty("", 0);  // an empty HealthCheckRequest: every service
  grpc::ByteBuffer request(&empty, 1);
  grpc::ByteBuffer response;
  std::promise<grpc::Status> done;
  stub.UnaryCall(&context, "/grpc.health.v1.Health/Check", grpc::StubOptions(), &request, &response,
                 [&done](grpc::Status status) { done.set_value(std::move(status)); });
  const grpc::Status status = done.get_future().get();
  if (!status.ok()) return "error " + std::to_string(status.error_code());
  std::vector<grpc::Slice> slices;
  (void)response.Dump(&slices);
  std::string bytes;
  for (const auto& slice : slices)
    bytes.append(reinterpret_cast<const char*>(slice.begin()), slice.size());
  if (bytes == std::string("\x08\x01", 2)) return "SERVING";
  if (bytes == std::string("\x08\x02", 2)) return "NOT_SERVING";
  return "unexpected response";
}

TEST(ChannelOptionsTest, LoopbackAddressesAreRecognised) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:7070"));
  EXPECT_TRUE(IsLoopbackAddress("127.1.2.3:1"));
  EXPECT_TRUE(IsLoopbackAddress("localhost:7070"));
  EXPECT_TRUE(IsLoopbackAddress("[::1]:7070"));
  EXPECT_FALSE(IsLoopbackAddress("10.0.0.1:7070"));
  EXPECT_FALSE(IsLoopbackAddress("coordinator.lab:7070"));
  EXPECT_FALSE(IsLoopbackAddress("128.0.0.1:7070"));
}

TEST(ChannelOptionsTest, PlaintextIsRefusedToARemoteAddress) {
  ChannelOptions o;
  o.address = "10.1.2.3:7070";
  o.insecure = true;
  const absl::Status s = ValidateChannelOptions(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("loopback"), std::string::npos) << s;
}

TEST(ChannelOptionsTest, ATokenNeedsTls) {
  ChannelOptions o;
  o.address = "127.0.0.1:7070";
  o.insecure = true;
  o.bearer_token = "secret";
  EXPECT_EQ(ValidateChannelOptions(o).code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(DescribeChannelOptions(o).find("secret"), std::string::npos);
}

TEST(ChannelOptionsTest, ACertificateNeedsItsKey) {
  ChannelOptions o;
  o.address = "c.lab:7070";
  o.tls_cert_file = "/etc/ladder/worker.pem";
  const absl::Status s = ValidateChannelOptions(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("tls_key_file"), std::string::npos) << s;
}

TEST(ChannelOptionsTest, MalformedAddressesAreRefused) {
  for (const char* bad : {"", "nohost", "host:", ":7070", "[::1", "[::1]", "::1:7070", "host:port",
                          "unix:/run/ladder.sock", "a b:1"}) {
    ChannelOptions o;
    o.address = bad;
    EXPECT_EQ(ValidateChannelOptions(o).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
}

TEST(ChannelOptionsTest, AListOfCoordinatorsIsParsedInOrder) {
  auto e = ParseCoordinatorAddress("10.0.0.5:7400, coord-b.lab:7401,[fd00::7]:7402");
  ASSERT_TRUE(e.ok()) << e.status();
  ASSERT_EQ(e->size(), 3u);
  EXPECT_EQ((*e)[0], (HostPort{"10.0.0.5", 7400}));
  EXPECT_EQ((*e)[1], (HostPort{"coord-b.lab", 7401}));
  EXPECT_EQ((*e)[2], (HostPort{"fd00::7", 7402}));
  auto one = ParseCoordinatorAddress("c.lab:7070");
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_EQ(*one, (std::vector<HostPort>{{"c.lab", 7070}}));
}

TEST(ChannelOptionsTest, DnsTargetsAreOneEntry) {
  for (const char* good : {"dns:///coordinators.lab:7400", "dns:coordinators.lab:7400",
                           "dns://10.0.0.53/coordinators.lab:7400"}) {
    auto e = ParseCoordinatorAddress(good);
    ASSERT_TRUE(e.ok()) << good << ": " << e.status();
    EXPECT_EQ(*e, (std::vector<HostPort>{{"coordinators.lab", 7400}})) << good;
    auto t = ResolveChannelTarget(good);
    ASSERT_TRUE(t.ok()) << t.status();
    EXPECT_EQ(t->target, good) << "gRPC resolves a dns: target itself";
    EXPECT_EQ(t->authority, "");
  }
  const absl::Status s = ParseCoordinatorAddress("dns:///a.lab:1,b.lab:1").status();
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("one host"), std::string::npos) << s;
}

TEST(ChannelOptionsTest, BadListEntriesAreNamed) {
  struct Case {
    const char* address;
    const char* expected;
  };
  for (const Case& c : std::vector<Case>{
           {"a.lab:7400,", "entry 2 is empty"},
           {"a.lab:7400,,b.lab:7400", "entry 2 is empty"},
           {"a.lab:7400,b.lab", "entry 2 ('b.lab') is not host:port"},
           {"a.lab:7400,b.lab:http", "entry 2 ('b.lab:http') is not host:port"},
           {"a.lab:99999,b.lab:1", "entry 1 ('a.lab:99999')"},
           {"a.lab:7400,b.lab:70000", "entry 2"},
           {"a.lab:7400,fd00::1:7400", "entry 2"},  // IPv6 needs brackets
           {"a.lab:7400,a.lab:7400", "entry 2 ('a.lab:7400') is listed twice"},
           {"dns:///", "is not dns:///name:port"},
       }) {
    const absl::Status s = ParseCoordinatorAddress(c.address).status();
    EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument) << c.address;
    EXPECT_EQ(s.message().rfind("address: ", 0), 0u) << s;
    EXPECT_NE(s.message().find(c.expected), std::string::npos) << c.address << " -> " << s;
  }
}

TEST(ChannelOptionsTest, OneAddressIsGivenToGrpcAsItIs) {
  auto t = ResolveChannelTarget("c.lab:7070");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->target, "c.lab:7070");
  EXPECT_EQ(t->authority, "");
}

TEST(ChannelOptionsTest, AListOfIpsBecomesAnIpv4OrIpv6Target) {
  auto v4 = ResolveChannelTarget("10.0.0.5:7400,10.0.0.6:7401");
  ASSERT_TRUE(v4.ok()) << v4.status();
  EXPECT_EQ(v4->target, "ipv4:10.0.0.5:7400,10.0.0.6:7401");
  EXPECT_EQ(v4->authority, "10.0.0.5:7400");
  auto v6 = ResolveChannelTarget("[fd00::5]:7400,[::1]:7401");
  ASSERT_TRUE(v6.ok()) << v6.status();
  EXPECT_EQ(v6->target, "ipv6:[fd00::5]:7400,[::1]:7401");
  EXPECT_EQ(v6->authority, "[fd00::5]:7400");
  const absl::Status mixed = ResolveChannelTarget("10.0.0.5:7400,[fd00::5]:7400").status();
  EXPECT_EQ(mixed.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(mixed.message().find("dns:///"), std::string::npos) << mixed;
}

TEST(ChannelOptionsTest, HostNamesOfAListAreResolvedInOrder) {
  // localhost is in every /etc/hosts; IPv4 is taken when every entry has it.
  auto t = ResolveChannelTarget("localhost:7401,127.0.0.2:7402");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->target, "ipv4:127.0.0.1:7401,127.0.0.2:7402");
  EXPECT_EQ(t->authority, "localhost:7401") << "the certificate is checked for the first name";
  EXPECT_TRUE(t->unresolved.empty());
}

TEST(ChannelOptionsTest, AHostThatDoesNotResolveIsSkippedUnlessItIsTheOnlyOne) {
  // .invalid never resolves (RFC 6761).
  auto t = ResolveChannelTarget("nowhere.invalid:7400,127.0.0.1:7401");
  ASSERT_TRUE(t.ok()) << t.status();
  EXPECT_EQ(t->target, "ipv4:127.0.0.1:7401");
  EXPECT_EQ(t->unresolved, (std::vector<std::string>{"nowhere.invalid"}));
  EXPECT_EQ(ResolveChannelTarget("a.invalid:1,b.invalid:2").status().code(),
            absl::StatusCode::kUnavailable);
}

TEST(ChannelOptionsTest, PlaintextNeedsEveryAddressOfAListOnLoopback) {
  EXPECT_TRUE(IsLoopbackAddress("127.0.0.1:7400,localhost:7401,[::1]:7402"));
  EXPECT_TRUE(IsLoopbackAddress("dns:///localhost:7400"));
  EXPECT_FALSE(IsLoopbackAddress("127.0.0.1:7400,10.0.0.6:7400"));
  EXPECT_FALSE(IsLoopbackAddress("dns:///coordinators.lab:7400"));
  ChannelOptions o;
  o.address = "127.0.0.1:7400,10.0.0.6:7400";
  o.insecure = true;
  const absl::Status s = ValidateChannelOptions(o);
  EXPECT_EQ(s.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(s.message().find("loopback"), std::string::npos) << s;
  o.address = "127.0.0.1:7400,127.0.0.1:7401";
  EXPECT_TRUE(ValidateChannelOptions(o).ok());
}

TEST(ChannelOptionsTest, BuildsChannelsToAList) {
  ChannelOptions plain;
  plain.address = "127.0.0.1:1,127.0.0.1:2";
  plain.insecure = true;
  EXPECT_TRUE(MakeChannel(plain).ok());
  ChannelOptions tls;
  tls.address = "10.0.0.5:7400,10.0.0.6:7400";
  tls.tls_server_name = "coordinator.lab";
  EXPECT_TRUE(MakeChannel(tls).ok());
  ChannelOptions none;
  none.address = "a.invalid:1,b.invalid:2";
  EXPECT_EQ(MakeChannel(none).status().code(), absl::StatusCode::kUnavailable);
}

TEST(ChannelOptionsTest, AListUsesTheFirstLiveServerAndMovesOnWhenItGoes) {
  HealthServer first(true), second(false);
  ChannelOptions o;
  o.address = first.address() + "," + second.address();
  o.insecure = true;
  auto channel = MakeChannel(o);
  ASSERT_TRUE(channel.ok()) << channel.status();
  EXPECT_EQ(HealthOf(*channel), "SERVING") << "pick_first: the first of the list";
  first.server->Shutdown();
  first.server->Wait();
  EXPECT_EQ(HealthOf(*channel), "NOT_SERVING") << "the same channel reaches the second";

  // A list whose first address has nothing listening starts on the second.
  ChannelOptions dead_first = o;
  dead_first.address = first.address() + "," + second.address();
  auto fresh = MakeChannel(dead_first);
  ASSERT_TRUE(fresh.ok()) << fresh.status();
  EXPECT_EQ(HealthOf(*fresh), "NOT_SERVING");
}

TEST(ChannelOptionsTest, MissingPemFileIsNotFound) {
  ChannelOptions o;
  o.address = "c.lab:7070";
  o.tls_ca_file = "/nonexistent/ca.pem";
  EXPECT_EQ(MakeChannel(o).status().code(), absl::StatusCode::kNotFound);
}

TEST(ChannelOptionsTest, BuildsPlaintextAndTlsChannels) {
  ChannelOptions plain;
  plain.address = "127.0.0.1:1";
  plain.insecure = true;
  EXPECT_TRUE(MakeChannel(plain).ok());
  ChannelOptions tls;
  tls.address = "c.lab:7070";
  tls.bearer_token = "t";
  EXPECT_TRUE(MakeChannel(tls).ok());
  EXPECT_EQ(DescribeChannelOptions(tls), "c.lab:7070 (TLS, system roots, bearer token)");
}

}  // namespace
}  // namespace ladder
