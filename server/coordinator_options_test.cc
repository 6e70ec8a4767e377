#include "server/coordinator_options.h"

#include <gtest/gtest.h>

namespace ladder {
namespace {

CoordinatorOptions Plain() {
  CoordinatorOptions o;
  o.database_url = "postgresql://ladder@127.0.0.1:5432/ladder";
  o.insecure_plaintext = true;
  return o;
}

TEST(CoordinatorOptionsTest, LoopbackPlaintextIsAccepted) { EXPECT_TRUE(Plain().Validate().ok()); }

TEST(CoordinatorOptionsTest, PlaintextOnAPublicAddressIsRefused) {
  CoordinatorOptions o = Plain();
  o.listen = "0.0.0.0:7400";
  absl::Status st = o.Validate();
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("--insecure-plaintext"), std::string::npos);
}

TEST(CoordinatorOptionsTest, PlaintextWorkersOnlyWithPlaintext) {
  CoordinatorOptions o = Plain();
  o.plaintext_workers = true;
  EXPECT_TRUE(o.Validate().ok());
  o.insecure_plaintext = false;
  o.tls_cert = "server.pem";
  o.tls_key = "server-key.pem";
  o.tls_client_ca = "ca.pem";
  EXPECT_NE(std::string(o.Validate().message()).find("--plaintext-workers"), std::string::npos);
}

TEST(CoordinatorOptionsTest, TlsNeedsCertificateAndKey) {
  CoordinatorOptions o = Plain();
  o.insecure_plaintext = false;
  EXPECT_NE(std::string(o.Validate().message()).find("--tls-cert"), std::string::npos);
}

TEST(CoordinatorOptionsTest, TlsNeedsAClientCaForWorkerCertificates) {
  CoordinatorOptions o = Plain();
  o.insecure_plaintext = false;
  o.tls_cert = "server.pem";
  o.tls_key = "server-key.pem";
  EXPECT_NE(std::string(o.Validate().message()).find("--tls-client-ca"), std::string::npos);
  o.tls_client_ca = "ca.pem";
  EXPECT_TRUE(o.Validate().ok());
}

TEST(CoordinatorOptionsTest, HeartbeatMustBeShorterThanTheLease) {
  CoordinatorOptions o = Plain();
  o.heartbeat_interval = o.lease_ttl;
  EXPECT_NE(std::string(o.Validate().message()).find("--heartbeat-interval"), std::string::npos);
}

TEST(CoordinatorOptionsTest, DescribeNeverShowsTheDatabasePassword) {
  CoordinatorOptions o = Plain();
  o.database_url = "postgresql://ladder:hunter2@db:5432/ladder";
  EXPECT_EQ(o.Describe().find("hunter2"), std::string::npos);
  EXPECT_EQ(RedactDatabaseUrl("host=db password=hunter2 user=x"), "host=db password=**** user=x");
}

}  // namespace
}  // namespace ladder
