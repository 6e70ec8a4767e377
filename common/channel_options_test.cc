#include "common/channel_options.h"

#include <gtest/gtest.h>

namespace ladder {
namespace {

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
  for (const char* bad : {"", "nohost", "host:", ":7070", "[::1"}) {
    ChannelOptions o;
    o.address = bad;
    EXPECT_EQ(ValidateChannelOptions(o).code(), absl::StatusCode::kInvalidArgument) << bad;
  }
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
