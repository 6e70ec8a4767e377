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

namespace ladder {

struct ChannelOptions {
  // host:port of the coordinator ("127.0.0.1:7070", "ladder.lab:7070", "[::1]:7070").
  std::string address;
  // Plaintext, no TLS. Refused unless `address` is a loopback address.
  bool insecure = false;
  // PEM file with the CA certificates that sign the coordinator's certificate;
  // empty = the system's roots.
  std::string tls_ca_file;
  // PEM files with this client's certificate chain and private key, for mutual
  // TLS. Both or neither.
  std::string tls_cert_file;
  std::string tls_key_file;
  // Name checked against the coordinator's certificate when it differs from
  // the host in `address` (e.g. connecting by IP). Empty = the host.
  std::string tls_server_name;
  // Bearer token for every call; empty = none. A secret: never logged.
  std::string bearer_token;
  // Upper bound on gRPC's reconnect backoff. gRPC's default (120 s) would make a
  // client notice a restarted coordinator up to two minutes late.
  std::chrono::milliseconds max_reconnect_backoff{2000};
};

// True for "localhost:P", "127.x.y.z:P", "[::1]:P" (and the bare hosts).
bool IsLoopbackAddress(std::string_view address);

// "" -> OK; else INVALID_ARGUMENT naming the option at fault
// ("tls_key_file: given without tls_cert_file").
absl::Status ValidateChannelOptions(const ChannelOptions& options);

// One line for start-up logs, without secrets:
// "127.0.0.1:7070 (plaintext)", "c.lab:7070 (mTLS, ca=/etc/ladder/ca.pem, token)".
std::string DescribeChannelOptions(const ChannelOptions& options);

// Validates, reads the PEM files and builds the channel (which connects
// lazily). `extra` arguments are added to the ones derived from `options`.
// Errors: INVALID_ARGUMENT (bad options), NOT_FOUND (unreadable PEM file).
absl::StatusOr<std::shared_ptr<grpc::Channel>> MakeChannel(
    const ChannelOptions& options, const grpc::ChannelArguments& extra = {});

}  // namespace ladder
