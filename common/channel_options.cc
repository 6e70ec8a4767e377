#include "common/channel_options.h"

#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <sstream>

namespace ladder {
namespace {

// Splits "host:port" / "[v6]:port" into its host; "" when malformed.
std::string HostOf(std::string_view address) {
  if (!address.empty() && address.front() == '[') {
    const auto close = address.find(']');
    if (close == std::string_view::npos) return "";
    return std::string(address.substr(1, close - 1));
  }
  const auto colon = address.rfind(':');
  return std::string(colon == std::string_view::npos ? address : address.substr(0, colon));
}

absl::StatusOr<std::string> ReadPem(const std::string& what, const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) return absl::NotFoundError(what + ": cannot read '" + path + "'");
  std::ostringstream text;
  text << in.rdbuf();
  return text.str();
}

// Adds "authorization: Bearer <token>" to every call.
class BearerTokenPlugin : public grpc::MetadataCredentialsPlugin {
 public:
  explicit BearerTokenPlugin(std::string token) : header_("Bearer " + std::move(token)) {}
  bool IsBlocking() const override { return false; }
  grpc::Status GetMetadata(grpc::string_ref, grpc::string_ref, const grpc::AuthContext&,
                           std::multimap<grpc::string, grpc::string>* metadata) override {
    metadata->emplace("authorization", header_);
    return grpc::Status::OK;
  }
  grpc::string DebugString() override { return "BearerTokenPlugin"; }

 private:
  const std::string header_;
};

}  // namespace

bool IsLoopbackAddress(std::string_view address) {
  const std::string host = HostOf(address);
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

absl::Status ValidateChannelOptions(const ChannelOptions& o) {
  if (o.address.empty()) return absl::InvalidArgumentError("address: empty (want host:port)");
  const auto colon = o.address.rfind(':');
  if (colon == std::string::npos || colon + 1 == o.address.size() || HostOf(o.address).empty()) {
    return absl::InvalidArgumentError("address: '" + o.address + "' is not host:port");
  }
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError(o.tls_cert_file.empty()
                                          ? "tls_key_file: given without tls_cert_file"
                                          : "tls_cert_file: given without tls_key_file");
  }
  if (o.insecure) {
    if (!IsLoopbackAddress(o.address)) {
      return absl::InvalidArgumentError(
          "insecure: plaintext is allowed only to a loopback "
          "address, not '" +
          o.address + "' (use TLS)");
    }
    if (!o.tls_ca_file.empty() || !o.tls_cert_file.empty() || !o.tls_server_name.empty()) {
      return absl::InvalidArgumentError("insecure: conflicts with the TLS options");
    }
    if (!o.bearer_token.empty()) {
      return absl::InvalidArgumentError(
          "bearer_token: gRPC sends call credentials only over TLS (drop insecure)");
    }
  }
  if (o.max_reconnect_backoff.count() <= 0) {
    return absl::InvalidArgumentError("max_reconnect_backoff: must be positive");
  }
  return absl::OkStatus();
}

std::string DescribeChannelOptions(const ChannelOptions& o) {
  std::string out = o.address + " (";
  if (o.insecure) {
    out += "plaintext";
  } else {
    out += o.tls_cert_file.empty() ? "TLS" : "mTLS";
    out += o.tls_ca_file.empty() ? ", system roots" : ", ca=" + o.tls_ca_file;
    if (!o.tls_server_name.empty()) out += ", server name " + o.tls_server_name;
  }
  if (!o.bearer_token.empty()) out += ", bearer token";
  return out + ")";
}

absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(const ChannelOptions& o,
                                                           const grpc::ChannelArguments& extra) {
  if (absl::Status s = ValidateChannelOptions(o); !s.ok()) return s;
  grpc::ChannelArguments args = extra;
  const int max_backoff = static_cast<int>(o.max_reconnect_backoff.count());
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_backoff);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(max_backoff, 200));
  args.SetInt(GRPC_ARG_MIN_RECONNECT_BACKOFF_MS, std::min(max_backoff, 100));

  std::shared_ptr<grpc::ChannelCredentials> creds;
  if (o.insecure) {
    creds = grpc::InsecureChannelCredentials();
  } else {
    grpc::SslCredentialsOptions ssl;
    if (!o.tls_ca_file.empty()) {
      auto pem = ReadPem("tls_ca_file", o.tls_ca_file);
      if (!pem.ok()) return pem.status();
      ssl.pem_root_certs = *std::move(pem);
    }
    if (!o.tls_cert_file.empty()) {
      auto cert = ReadPem("tls_cert_file", o.tls_cert_file);
      if (!cert.ok()) return cert.status();
      auto key = ReadPem("tls_key_file", o.tls_key_file);
      if (!key.ok()) return key.status();
      ssl.pem_cert_chain = *std::move(cert);
      ssl.pem_private_key = *std::move(key);
    }
    creds = grpc::SslCredentials(ssl);
    if (!o.tls_server_name.empty()) args.SetSslTargetNameOverride(o.tls_server_name);
    if (!o.bearer_token.empty()) {
      creds = grpc::CompositeChannelCredentials(
          creds,
          grpc::MetadataCredentialsFromPlugin(std::make_unique<BearerTokenPlugin>(o.bearer_token)));
    }
  }
  return grpc::CreateCustomChannel(o.address, creds, args);
}

}  // namespace ladder
