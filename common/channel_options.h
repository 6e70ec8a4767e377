// How a Ladder client (ladder-worker, the ladder CLI) reaches a coordinator:
// address, transport security and call credentials, in one struct that each
// binary fills from its flags, and one function that turns it into a channel.
//
// Transport: TLS by default (system roots, or --tls-ca); mutual TLS when a
// client certificate and key are given; plaintext only when asked for
// explicitly (`insecure`) and only to a loopback address. Call credentials: a
// bearer token, sent as "authorization: Bearer <token>" on every call; gRPC
// sends call credentials only over TLS, so a token needs TLS.
//
// Several coordinators (one database): `address` may list them,
// "10.0.0.5:7400,10.0.0.6:7400", or be one DNS name with several records
// ("coordinators.lab:7400", "dns:///coordinators.lab:7400"). gRPC's pick_first
// policy then connects to the first one that answers and, when that
// connection breaks, starts again from the top of the list. A list is
// resolved once, here, into an ipv4:/ipv6: target (gRPC has no target for
// several host names); a DNS name is resolved by gRPC, again after every
// lost connection, so it follows coordinators that move (a k8s headless
// Service). With TLS, every coordinator of a list must present a
// certificate for one name: `tls_server_name`, else the first host written.
//
// Thread safety: plain values; MakeChannel may be called from any thread.
#pragma once

#include <absl/status/status.h>
#include <absl/status/statusor.h>
#include <grpcpp/channel.h>
#include <grpcpp/support/channel_arguments.h>

#include <chrono>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace ladder {

struct ChannelOptions {
  // host:port of the coordinator ("127.0.0.1:7070", "ladder.lab:7070",
  // "[::1]:7070"), several of them separated by commas
  // ("10.0.0.5:7400,10.0.0.6:7400"), or "dns:///name:port".
  std::string address;
  // Plaintext, no TLS. Refused unless every address is a loopback address.
  bool insecure = false;
  // PEM file with the CA certificates that sign the coordinator's certificate;
  // empty = the system's roots.
  std::string tls_ca_file;
  // PEM files with this client's certificate chain and private key, for mutual
  // TLS. Both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Name checked against the coordinator's certificate when it differs from
  // the host in `address` (e.g. connecting by IP). Empty = the host (the
  // first host of a list).
  std::string tls_server_name;
  // Bearer token for every call; empty = none. A secret: never logged.
  std::string bearer_token;
  // Upper bound on gRPC's reconnect backoff. gRPC's default (120 s) would make a
  // client notice a restarted coordinator up to two minutes late.
  std::chrono::milliseconds max_reconnect_backoff{2000};
  // HTTP/2 keepalive ping every `keepalive_time` while calls are open, and
  // the connection dropped when a ping, or any data sent (TCP_USER_TIMEOUT),
  // goes unacknowledged for `keepalive_timeout`: a coordinator that vanished
  // without closing its connections (a partitioned or powered-off host) is
  // noticed, and the channel moves on to the next address. The ping period
  // stays at gRPC servers' default floor (5 min; faster pings get a
  // GOAWAY "too_many_pings"); the timeout does the work.
  std::chrono::milliseconds keepalive_time{std::chrono::minutes(5)};
  std::chrono::milliseconds keepalive_timeout{std::chrono::seconds(20)};
};

// One coordinator address of a list: host (brackets stripped) and port.
struct HostPort {
  std::string host;
  int port = 0;
  bool operator==(const HostPort& o) const { return host == o.host && port == o.port; }
};

// The parts of `address`: a comma-separated list of host:port ("a:7400",
// "a:7400,b:7400", "[::1]:7400,127.0.0.1:7401"), or one "dns:///name:port"
// ("dns:name:port", "dns://dns-server/name:port"), which gives one entry.
// INVALID_ARGUMENT naming the entry at fault ("address: entry 2 ('b') is not
// host:port"); the message starts with "address: ".
absl::StatusOr<std::vector<HostPort>> ParseCoordinatorAddress(std::string_view address);

// The gRPC target and authority for `address`. One host:port or a dns:
// target is used as it is (gRPC resolves it, every record, again after a
// lost connection; the authority is gRPC's default). A list becomes
// "ipv4:ip:port,..." (or "ipv6:[ip]:port,..." when some entry has no IPv4
// address), in the order given, host names resolved now with getaddrinfo;
// its authority is the first entry ("a:7400"). Entries whose name does not
// resolve are skipped and named in `unresolved`; none resolving is
// UNAVAILABLE.
struct ChannelTarget {
  std::string target;
  std::string authority;  // empty = gRPC's default (the target)
  std::vector<std::string> unresolved;
};
absl::StatusOr<ChannelTarget> ResolveChannelTarget(std::string_view address);

// True for "localhost:P", "127.x.y.z:P", "[::1]:P" (and the bare hosts); for
// a list, true when every entry is.
bool IsLoopbackAddress(std::string_view address);

// "" -> OK; else INVALID_ARGUMENT naming the option at fault
// ("tls_key_file: given without tls_cert_file").
absl::Status ValidateChannelOptions(const ChannelOptions& options);

// One line for start-up logs, without secrets:
// "127.0.0.1:7070 (plaintext)", "c.lab:7070 (mTLS, ca=/etc/ladder/ca.pem, token)".
std::string DescribeChannelOptions(const ChannelOptions& options);

// Validates, reads the PEM files, resolves a list (ResolveChannelTarget) and
// builds the channel (which connects lazily), with the pick_first policy and
// a service config that retries the read-only methods (Get*, List*, Watch*,
// PredictLoss, ...) on UNAVAILABLE, so a call that was on its way to a
// coordinator that died goes to the next one. The Agent methods are not
// retried by gRPC: the worker retries them itself (worker/agent_client.h).
// `extra` arguments are added to the ones derived from `options`.
// Errors: INVALID_ARGUMENT (bad options), NOT_FOUND (unreadable PEM file),
// UNAVAILABLE (no host name of a list resolves).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ChannelOptions& options, const grpc::ChannelArguments& extra = {});

}  // namespace ladder
