#include "client/cli_context.h"

#include <google/protobuf/util/json_util.h>

#include <iostream>
#include <sstream>

#include "common/channel_options.h"
#include "common/grpc_status.h"

namespace ladder::cli {

int ExitCodeFor(const grpc::Status& s) {
  switch (s.error_code()) {
    case grpc::StatusCode::OK:
      return 0;
    case grpc::StatusCode::INVALID_ARGUMENT:
    case grpc::StatusCode::NOT_FOUND:
    case grpc::StatusCode::FAILED_PRECONDITION:
    case grpc::StatusCode::ALREADY_EXISTS:
    case grpc::StatusCode::OUT_OF_RANGE:
      return 2;
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
      return 3;
    case grpc::StatusCode::UNAUTHENTICATED:
    case grpc::StatusCode::PERMISSION_DENIED:
      return 4;
    default:
      return 1;
  }
}

std::string ToJson(const google::protobuf::Message& m) {
  std::string out;
  google::protobuf::util::JsonPrintOptions o;
  o.preserve_proto_field_names = true;
  o.always_print_primitive_fields = true;
  (void)google::protobuf::util::MessageToJsonString(m, &out, o);
  return out;
}

bool CliContext::Connect() {
  if (channel_) return true;
  if (connect_failed_) return false;
  ChannelOptions o;
  o.address = options_.coordinator;
  o.insecure = options_.insecure;
  if (!o.insecure) {  // a plaintext (loopback, dev) coordinator checks neither
    o.tls_ca_file = options_.ca_file;
    o.bearer_token = options_.token;
  }
  grpc::ChannelArguments args;
  args.SetMaxReceiveMessageSize(256 << 20);
  auto channel = MakeChannel(o, args);
  if (!channel.ok()) {
    std::string msg(channel.status().message());
    if (msg.rfind("address", 0) == 0) msg = "--coordinator" + msg.substr(7);
    if (msg.rfind("insecure", 0) == 0) msg = "--insecure" + msg.substr(8);
    if (msg.rfind("tls_ca_file", 0) == 0) msg = "--ca" + msg.substr(11);
    if (msg.rfind("bearer_token", 0) == 0) msg = "--token" + msg.substr(12);
    Usage(msg);
    connect_failed_ = true;
    return false;
  }
  channel_ = *std::move(channel);
  sweeps_ = v1::Sweeps::NewStub(channel_);
  runs_ = v1::Runs::NewStub(channel_);
  workers_ = v1::Workers::NewStub(channel_);
  fits_ = v1::Fits::NewStub(channel_);
  admin_ = v1::Admin::NewStub(channel_);
  return true;
}

v1::Sweeps::Stub* CliContext::sweeps() { return Connect() ? sweeps_.get() : nullptr; }
v1::Runs::Stub* CliContext::runs() { return Connect() ? runs_.get() : nullptr; }
v1::Workers::Stub* CliContext::workers() { return Connect() ? workers_.get() : nullptr; }
v1::Fits::Stub* CliContext::fits() { return Connect() ? fits_.get() : nullptr; }
v1::Admin::Stub* CliContext::admin() { return Connect() ? admin_.get() : nullptr; }

std::unique_ptr<grpc::ClientContext> CliContext::Call(bool streaming) const {
  auto ctx = std::make_unique<grpc::ClientContext>();
  if (!streaming) {
    ctx->set_deadline(std::chrono::system_clock::now() + options_.timeout);
  }
  return ctx;
}

int CliContext::Fail(const grpc::Status& status, const std::string& what) const {
  std::string msg = status.error_message();
  const bool several = options_.coordinator.find(',') != std::string::npos;
  if (status.error_code() == grpc::StatusCode::UNAVAILABLE) {
    msg = (several ? "no coordinator of " : "coordinator at ") + options_.coordinator +
          (several ? " is reachable (" : " is unreachable (") + msg + ")";
  } else if (status.error_code() == grpc::StatusCode::DEADLINE_EXCEEDED) {
    msg = (several ? "no coordinator of " : "coordinator at ") + options_.coordinator +
          (several ? " answered in time" : " did not answer in time");
  }
  std::cerr << "ladder: " << what << ": " << msg << " [" << GrpcCodeName(status.error_code())
            << "]\n";
  return ExitCodeFor(status);
}

int CliContext::Usage(const std::string& message) const {
  std::cerr << "ladder: " << message << "\n";
  return 2;
}

}  // namespace ladder::cli
