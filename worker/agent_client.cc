#include "worker/agent_client.h"

#include <boost/asio/executor_work_guard.hpp>
#include <boost/asio/post.hpp>

#include "common/grpc_status.h"

namespace ladder::worker {

bool IsRetryable(const grpc::Status& status) {
  switch (status.error_code()) {
    case grpc::StatusCode::UNAVAILABLE:
    case grpc::StatusCode::DEADLINE_EXCEEDED:
    case grpc::StatusCode::RESOURCE_EXHAUSTED:
    case grpc::StatusCode::ABORTED:
      return true;
    default:
      return false;
  }
}

std::string DescribeStatus(const grpc::Status& status) {
  std::string out = GrpcCodeName(status.error_code());
  if (!status.error_message().empty()) out += ": " + status.error_message();
  return out;
}

AgentClient::AgentClient(boost::asio::io_context& io, std::shared_ptr<grpc::Channel> channel,
                         std::chrono::milliseconds deadline)
    : io_(io), stub_(v1::Agent::NewStub(std::move(channel))), deadline_(deadline) {}

AgentClient::~AgentClient() {
  CancelAll();
  std::unique_lock<std::mutex> lock(mu_);
  idle_.wait(lock, [this] { return in_flight_.empty(); });
}

void AgentClient::CancelAll() {
  std::lock_guard<std::mutex> lock(mu_);
  for (grpc::ClientContext* context : in_flight_) context->TryCancel();
}

template <typename Request, typename Response, typename Start>
void AgentClient::Call(const Request& request, Done<Response> done, Start start) {
  // Everything gRPC touches until the completion lives here.
  struct State {
    explicit State(boost::asio::io_context& io) : work(io.get_executor()) {}
    grpc::ClientContext context;
    Request request;
    Response response;
    boost::asio::executor_work_guard<boost::asio::io_context::executor_type> work;
  };
  auto state = std::make_shared<State>(io_);
  state->request = request;
  state->context.set_deadline(std::chrono::system_clock::now() + deadline_);
  {
    std::lock_guard<std::mutex> lock(mu_);
    in_flight_.insert(&state->context);
  }
  // The callback runs on a gRPC thread. It keeps nothing: the ClientContext
  // holds a reference to the channel, and gRPC 1.51 crashes when a channel's
  // last reference goes on one of its own callback threads (the callback
  // completion queue then joins the thread it runs on; grpc/grpc#32584). So
  // `state` moves into the handler posted to the io_context and is released
  // there (or where the io_context is destroyed). The call leaves in_flight_
  // first, and `this` is not touched after that: the destructor may run then.
  start(stub_->async(), &state->context, &state->request, &state->response,
        [this, &io = io_, state, done = std::move(done)](grpc::Status status) mutable {
          auto work = std::move(state->work);
          grpc::ClientContext* const context = &state->context;
          {
            std::lock_guard<std::mutex> lock(mu_);
            in_flight_.erase(context);
            if (in_flight_.empty()) idle_.notify_all();
          }
          boost::asio::post(io, [state = std::move(state), done = std::move(done),
                                 status = std::move(status)]() mutable {
            done(status, std::move(state->response));
          });
          work.reset();
        });
}

#define LADDER_AGENT_CALL(Method)                                                                 \
  void AgentClient::Method(const v1::Method##Request& request, Done<v1::Method##Response> done) { \
    Call<v1::Method##Request, v1::Method##Response>(                                              \
        request, std::move(done),                                                                 \
        [](auto* async, grpc::ClientContext* context, const v1::Method##Request* req,             \
           v1::Method##Response* resp, std::function<void(grpc::Status)> on_done) {               \
          async->Method(context, req, resp, std::move(on_done));                                  \
        });                                                                                       \
  }

LADDER_AGENT_CALL(RegisterWorker)
LADDER_AGENT_CALL(LeaseRun)
LADDER_AGENT_CALL(Heartbeat)
LADDER_AGENT_CALL(ReportProgress)
LADDER_AGENT_CALL(CompleteAttempt)
LADDER_AGENT_CALL(FailAttempt)

#undef LADDER_AGENT_CALL

}  // namespace ladder::worker
