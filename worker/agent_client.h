// The worker's side of ladder.v1.Agent, for code that runs on an Asio
// event loop.
//
// Why gRPC's callback API: the worker's state lives on one io_context thread
// and must never wait on the network. The callback API needs no threads of
// ours (a thread pool would need sizing, and a blocked pool thread per slow
// call); gRPC runs the completion on its own thread, where we only post the
// result back to the io_context. Every call has a deadline.
//
// Threading: call the methods from any thread (the worker uses its
// io_context thread). `done` always runs on the io_context, exactly once,
// unless the io_context stops first. While a call is in flight the
// io_context has outstanding work, so io_context::run() does not return
// under it. Nothing is released on gRPC's threads (a channel must not die
// there, see agent_client.cc): destroy the client, and run or destroy the
// io_context, on threads of your own.
#pragma once

#include <grpcpp/channel.h>
#include <grpcpp/client_context.h>

#include <boost/asio/io_context.hpp>
#include <chrono>
#include <condition_variable>
#include <functional>
#include <memory>
#include <mutex>
#include <set>

#include "ladder/v1/ladder.grpc.pb.h"

namespace ladder::worker {

namespace v1 = ::ladder::v1;

// The codes on which a call to the coordinator is retried with backoff: the
// coordinator is down or restarting (UNAVAILABLE), slow (DEADLINE_EXCEEDED),
// shedding load (RESOURCE_EXHAUSTED) or asks for a retry (ABORTED).
bool IsRetryable(const grpc::Status& status);

// "UNAVAILABLE: failed to connect to all addresses" for logs.
std::string DescribeStatus(const grpc::Status& status);

class AgentClient {
 public:
  template <typename Response>
  using Done = std::function<void(const grpc::Status& status, Response response)>;

  // `io` must outlive the client. `deadline` applies to every call.
  AgentClient(boost::asio::io_context& io, std::shared_ptr<grpc::Channel> channel,
              std::chrono::milliseconds deadline);
  // Cancels the calls in flight and waits until gRPC is done with them; their
  // `done` is still posted (and runs only if the io_context runs again).
  ~AgentClient();

  AgentClient(const AgentClient&) = delete;
  AgentClient& operator=(const AgentClient&) = delete;

  void RegisterWorker(const v1::RegisterWorkerRequest& request,
                      Done<v1::RegisterWorkerResponse> done);
  void LeaseRun(const v1::LeaseRunRequest& request, Done<v1::LeaseRunResponse> done);
  void Heartbeat(const v1::HeartbeatRequest& request, Done<v1::HeartbeatResponse> done);
  void ReportProgress(const v1::ReportProgressRequest& request,
                      Done<v1::ReportProgressResponse> done);
  void CompleteAttempt(const v1::CompleteAttemptRequest& request,
                       Done<v1::CompleteAttemptResponse> done);
  void FailAttempt(const v1::FailAttemptRequest& request, Done<v1::FailAttemptResponse> done);

  // Cancels every call in flight (they complete with CANCELLED).
  void CancelAll();

 private:
  template <typename Request, typename Response, typename Start>
  void Call(const Request& request, Done<Response> done, Start start);

  boost::asio::io_context& io_;
  std::unique_ptr<v1::Agent::Stub> stub_;
  const std::chrono::milliseconds deadline_;

  std::mutex mu_;
  std::condition_variable idle_;
  std::set<grpc::ClientContext*> in_flight_;  // guarded by mu_
};

}  // namespace ladder::worker
