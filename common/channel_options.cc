#include "common/channel_options.h"

#include <arpa/inet.h>
#include <grpcpp/create_channel.h>
#include <grpcpp/security/credentials.h>
#include <netdb.h>
#include <netinet/in.h>
#include <sys/socket.h>

#include <algorithm>
#include <fstream>
#include <map>
#include <optional>
#include <sstream>

#include "common/logging.h"

namespace ladder {
namespace {

std::string_view Trim(std::string_view s) {
  while (!s.empty() && (s.front() == ' ' || s.front() == '\t')) s.remove_prefix(1);
  while (!s.empty() && (s.back() == ' ' || s.back() == '\t')) s.remove_suffix(1);
  return s;
}

// "host:port" / "[v6]:port" -> its parts; nullopt when malformed.
std::optional<HostPort> ParseHostPort(std::string_view entry) {
  std::string_view host, port;
  if (!entry.empty() && entry.front() == '[') {
    const auto close = entry.find(']');
    if (close == std::string_view::npos || close + 1 >= entry.size() || entry[close + 1] != ':') {
      return std::nullopt;
    }
    host = entry.substr(1, close - 1);
    port = entry.substr(close + 2);
  } else {
    const auto colon = entry.rfind(':');
    if (colon == std::string_view::npos) return std::nullopt;
    host = entry.substr(0, colon);
    port = entry.substr(colon + 1);
    if (host.find(':') != std::string_view::npos) return std::nullopt;  // IPv6 needs brackets
  }
  if (host.empty() || port.empty() || port.size() > 5) return std::nullopt;
  if (host.find_first_of(" \t/,[]") != std::string_view::npos) return std::nullopt;
  int number = 0;
  for (char c : port) {
    if (c < '0' || c > '9') return std::nullopt;
    number = number * 10 + (c - '0');
  }
  if (number > 65535) return std::nullopt;
  return HostPort{std::string(host), number};
}

bool IsDnsTarget(std::string_view address) { return address.rfind("dns:", 0) == 0; }

// "host:port" as it is written, brackets around an IPv6 host.
std::string Join(const std::string& host, int port) {
  const bool v6 = host.find(':') != std::string::npos;
  return (v6 ? "[" + host + "]" : host) + ":" + std::to_string(port);
}

bool IsLoopbackHost(const std::string& host) {
  return host == "localhost" || host == "::1" || host.rfind("127.", 0) == 0;
}

// Read-only methods, retried by gRPC on UNAVAILABLE (the next coordinator of
// the list answers). Fits.Backtest is left out: its UNAVAILABLE means "still
// computing" and the CLI polls it. The Agent is left to the worker's own
// retries (logged and counted per attempt).
constexpr const char* kRetriedMethods[][2] = {
    {"Sweeps", "GetSweep"},      {"Sweeps", "ListSweeps"},   {"Sweeps", "WatchSweep"},
    {"Runs", "ListRuns"},        {"Runs", "GetRun"},         {"Fits", "GetFit"},
    {"Fits", "ListFitHistory"},  {"Fits", "PredictLoss"},    {"Fits", "OptimalAllocation"},
    {"Fits", "CompareFamilies"}, {"Workers", "ListWorkers"}, {"Admin", "ListTokens"},
};

std::string ServiceConfigJson() {
  std::string names;
  for (const auto& m : kRetriedMethods) {
    if (!names.empty()) names += ",";
    names += std::string("{\"service\":\"ladder.v1.") + m[0] + "\",\"method\":\"" + m[1] + "\"}";
  }
  return "{\"loadBalancingConfig\":[{\"pick_first\":{}}],"
         "\"methodConfig\":[{\"name\":[" +
         names +
         "],\"retryPolicy\":{\"maxAttempts\":3,\"initialBackoff\":\"0.2s\","
         "\"maxBackoff\":\"2s\",\"backoffMultiplier\":2,"
         "\"retryableStatusCodes\":[\"UNAVAILABLE\"]}}]}";
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

absl::StatusOr<std::vector<HostPort>> ParseCoordinatorAddress(std::string_view address) {
  address = Trim(address);
  if (address.empty()) return absl::InvalidArgumentError("address: empty (want host:port)");
  if (IsDnsTarget(address)) {
    // dns:[//dns-server/]name:port
    std::string_view rest = address.substr(4);
    if (rest.rfind("//", 0) == 0) {
      const auto slash = rest.find('/', 2);
      rest = slash == std::string_view::npos ? std::string_view() : rest.substr(slash + 1);
    }
    if (rest.find(',') != std::string_view::npos) {
      return absl::InvalidArgumentError("address: '" + std::string(address) +
                                        "': a dns: target names one host (give it several "
                                        "records, or list host:port entries without dns:)");
    }
    auto entry = ParseHostPort(rest);
    if (!entry) {
      return absl::InvalidArgumentError("address: '" + std::string(address) +
                                        "' is not dns:///name:port");
    }
    return std::vector<HostPort>{*entry};
  }
  std::vector<HostPort> out;
  const bool list = address.find(',') != std::string_view::npos;
  size_t start = 0;
  for (int n = 1;; ++n) {
    const auto comma = address.find(',', start);
    const std::string_view raw = Trim(address.substr(
        start, comma == std::string_view::npos ? std::string_view::npos : comma - start));
    auto entry = ParseHostPort(raw);
    if (!entry) {
      if (!list) {
        return absl::InvalidArgumentError("address: '" + std::string(address) +
                                          "' is not host:port");
      }
      return absl::InvalidArgumentError(
          "address: entry " + std::to_string(n) +
          (raw.empty() ? " is empty" : " ('" + std::string(raw) + "') is not host:port") +
          " (want host:port,host:port)");
    }
    if (std::find(out.begin(), out.end(), *entry) != out.end()) {
      return absl::InvalidArgumentError("address: entry " + std::to_string(n) + " ('" +
                                        std::string(raw) + "') is listed twice");
    }
    out.push_back(*std::move(entry));
    if (comma == std::string_view::npos) break;
    start = comma + 1;
  }
  return out;
}

absl::StatusOr<ChannelTarget> ResolveChannelTarget(std::string_view address) {
  auto entries = ParseCoordinatorAddress(address);
  if (!entries.ok()) return entries.status();
  address = Trim(address);
  if (IsDnsTarget(address) || entries->size() == 1) {
    return ChannelTarget{std::string(address), "", {}};
  }
  struct Resolved {
    std::vector<std::string> v4, v6;
    int port;
  };
  std::vector<Resolved> resolved;
  ChannelTarget out;
  out.authority = Join(entries->front().host, entries->front().port);
  for (const HostPort& e : *entries) {
    Resolved r{{}, {}, e.port};
    in_addr a4;
    in6_addr a6;
    if (inet_pton(AF_INET, e.host.c_str(), &a4) == 1) {
      r.v4.push_back(e.host);
    } else if (inet_pton(AF_INET6, e.host.c_str(), &a6) == 1) {
      r.v6.push_back(e.host);
    } else {
      addrinfo hints{};
      hints.ai_family = AF_UNSPEC;
      hints.ai_socktype = SOCK_STREAM;
      addrinfo* found = nullptr;
      if (getaddrinfo(e.host.c_str(), nullptr, &hints, &found) != 0 || found == nullptr) {
        out.unresolved.push_back(e.host);
        continue;
      }
      for (addrinfo* ai = found; ai != nullptr; ai = ai->ai_next) {
        char text[INET6_ADDRSTRLEN] = {};
        if (ai->ai_family == AF_INET) {
          inet_ntop(AF_INET, &reinterpret_cast<sockaddr_in*>(ai->ai_addr)->sin_addr, text,
                    sizeof text);
          if (std::find(r.v4.begin(), r.v4.end(), text) == r.v4.end()) r.v4.push_back(text);
        } else if (ai->ai_family == AF_INET6) {
          inet_ntop(AF_INET6, &reinterpret_cast<sockaddr_in6*>(ai->ai_addr)->sin6_addr, text,
                    sizeof text);
          if (std::find(r.v6.begin(), r.v6.end(), text) == r.v6.end()) r.v6.push_back(text);
        }
      }
      freeaddrinfo(found);
    }
    resolved.push_back(std::move(r));
  }
  if (resolved.empty()) {
    return absl::UnavailableError("address: none of the hosts of '" + std::string(address) +
                                  "' resolves");
  }
  const bool all_v4 = std::all_of(resolved.begin(), resolved.end(),
                                  [](const Resolved& r) { return !r.v4.empty(); });
  const bool all_v6 = std::all_of(resolved.begin(), resolved.end(),
                                  [](const Resolved& r) { return !r.v6.empty(); });
  if (!all_v4 && !all_v6) {
    return absl::InvalidArgumentError("address: '" + std::string(address) +
                                      "' mixes IPv4-only and IPv6-only coordinators (gRPC takes "
                                      "one family per list; use a DNS name with A and AAAA "
                                      "records, dns:///name:port)");
  }
  std::vector<std::string> parts;
  for (const Resolved& r : resolved) {
    for (const std::string& ip : all_v4 ? r.v4 : r.v6) {
      std::string part = Join(ip, r.port);
      if (std::find(parts.begin(), parts.end(), part) == parts.end()) parts.push_back(part);
    }
  }
  out.target = all_v4 ? "ipv4:" : "ipv6:";
  for (size_t i = 0; i < parts.size(); ++i) out.target += (i ? "," : "") + parts[i];
  return out;
}

bool IsLoopbackAddress(std::string_view address) {
  auto entries = ParseCoordinatorAddress(address);
  if (!entries.ok()) {
    // A bare host ("localhost", "127.0.0.1"): no port to parse.
    return IsLoopbackHost(std::string(Trim(address)));
  }
  return std::all_of(entries->begin(), entries->end(),
                     [](const HostPort& e) { return IsLoopbackHost(e.host); });
}

absl::Status ValidateChannelOptions(const ChannelOptions& o) {
  if (auto entries = ParseCoordinatorAddress(o.address); !entries.ok()) return entries.status();
  if (o.tls_cert_file.empty() != o.tls_key_file.empty()) {
    return absl::InvalidArgumentError(o.tls_cert_file.empty()
                                          ? "tls_key_file: given without tls_cert_file"
                                          : "tls_cert_file: given without tls_key_file");
  }
  if (o.insecure) {
    if (!IsLoopbackAddress(o.address)) {
      return absl::InvalidArgumentError(
          "insecure: plaintext is allowed only to loopback "
          "addresses, not '" +
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
  if (o.keepalive_time.count() <= 0 || o.keepalive_timeout.count() <= 0) {
    return absl::InvalidArgumentError("keepalive_time: it and keepalive_timeout must be positive");
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
  auto target = ResolveChannelTarget(o.address);
  if (!target.ok()) return target.status();
  for (const std::string& host : target->unresolved) {
    LOG_WARN << "coordinator host '" << host << "' does not resolve; using the others of "
             << o.address;
  }
  grpc::ChannelArguments args = extra;
  if (!target->authority.empty()) args.SetString(GRPC_ARG_DEFAULT_AUTHORITY, target->authority);
  args.SetServiceConfigJSON(ServiceConfigJson());
  args.SetInt(GRPC_ARG_SERVICE_CONFIG_DISABLE_RESOLUTION, 1);  // no service config from DNS TXT
  args.SetInt(GRPC_ARG_KEEPALIVE_TIME_MS, static_cast<int>(o.keepalive_time.count()));
  args.SetInt(GRPC_ARG_KEEPALIVE_TIMEOUT_MS, static_cast<int>(o.keepalive_timeout.count()));
  const int max_backoff = static_cast<int>(o.max_reconnect_backoff.count());
  args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, max_backoff);
  args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, std::min(max_backoff, 200));
  // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also takes it as the minimum
  // time a connection attempt may take (default 20 s), and at 100 ms most TLS
  // handshakes to a busy coordinator timed out (bench/coordinator, 1,000
  // workers over mTLS: 29,170 UNAVAILABLE).

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
  return grpc::CreateCustomChannel(target->target, creds, args);
}

}  // namespace ladder
