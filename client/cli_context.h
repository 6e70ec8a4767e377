// What every `ladder` subcommand shares: the connection to the coordinator,
// output mode, and the one way errors are reported (one readable line on
// stderr and an exit code).
//
// Exit codes (stable, for scripts):
//   0  success
//   1  the operation failed on the server (or a watched sweep failed)
//   2  bad usage or input: unknown flag, unreadable file, INVALID_ARGUMENT,
//      NOT_FOUND, FAILED_PRECONDITION, ALREADY_EXISTS
//   3  the coordinator is unreachable or timed out
//   4  not allowed: UNAUTHENTICATED or PERMISSION_DENIED
#pragma once

#include <grpcpp/grpcpp.h>

#include <chrono>
#include <memory>
#include <string>

#include "ladder/v1/ladder.grpc.pb.h"

namespace ladder::cli {

struct GlobalOptions {
  // $LADDER_COORDINATOR: host:port, several ("a:7400,b:7400": the first
  // that answers), or dns:///name:port (every record); common/channel_options.h.
  std::string coordinator = "127.0.0.1:7400";
  bool insecure = false;                     // plaintext; loopback only ($LADDER_INSECURE=1)
  std::string ca_file;                       // $LADDER_CA: CA that signed the coordinator
  std::string token;                         // $LADDER_TOKEN: bearer token (needs TLS)
  bool json = false;                         // machine-readable output
  std::chrono::milliseconds timeout{30000};  // per call (not for watch)
};

class CliContext {
 public:
  explicit CliContext(GlobalOptions options) : options_(std::move(options)) {}

  const GlobalOptions& options() const { return options_; }
  bool json() const { return options_.json; }

  // Lazily opened channel and stubs; nullptr with the error reported when
  // the channel cannot be made (e.g. unreadable CA file).
  v1::Sweeps::Stub* sweeps();
  v1::Runs::Stub* runs();
  v1::Workers::Stub* workers();
  v1::Fits::Stub* fits();
  v1::Admin::Stub* admin();

  // A context with the deadline set (the token rides on the channel).
  std::unique_ptr<grpc::ClientContext> Call(bool streaming = false) const;

  // Reports a failed call as one line and returns its exit code.
  int Fail(const grpc::Status& status, const std::string& what) const;
  // Reports a local error (bad file, bad flag value): exit code 2.
  int Usage(const std::string& message) const;

 private:
  bool Connect();

  GlobalOptions options_;
  std::shared_ptr<grpc::Channel> channel_;
  bool connect_failed_ = false;
  std::unique_ptr<v1::Sweeps::Stub> sweeps_;
  std::unique_ptr<v1::Runs::Stub> runs_;
  std::unique_ptr<v1::Workers::Stub> workers_;
  std::unique_ptr<v1::Fits::Stub> fits_;
  std::unique_ptr<v1::Admin::Stub> admin_;
};

// Exit code for a gRPC status, per the table above.
int ExitCodeFor(const grpc::Status& status);

// Protobuf message as JSON (proto3 JSON mapping, field names as in the .proto).
std::string ToJson(const google::protobuf::Message& message);

}  // namespace ladder::cli
