// ladder.v1.Workers (operators) and ladder.v1.Agent (worker daemons): thin
// handlers over the worker store and the scheduler. Agent calls on a TLS
// port act only for the worker the client certificate's CN names
// (WorkerIdentity); DrainWorker (admin) is refused on a plaintext port.
//
// Workers talks to WorkerStore directly, with no manager between: ListWorkers
// is a pure read, and DrainWorker is one row update whose only rules (who may
// ask: the admin check here; NOT_FOUND / FAILED_PRECONDITION for an unknown
// or gone worker: the store's transaction) leave nothing for a manager to
// own. What drain means to leases is the lease store's (LeaseRun refuses a
// draining worker), reached through the Scheduler like every Agent call.
#pragma once

#include <memory>

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/auth/request_authorizer.h"
#include "server/coordinator_metrics.h"
#include "server/group_commit.h"
#include "server/scheduler.h"
#include "server/store/worker_store.h"

namespace ladder {

class WorkersService final : public v1::Workers::Service {
 public:
  explicit WorkersService(store::WorkerStore* workers) : workers_(workers) {}
  grpc::Status ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest*,
                           v1::ListWorkersResponse*) override;
  grpc::Status DrainWorker(grpc::ServerContext*, const v1::DrainWorkerRequest*,
                           v1::Worker*) override;

 private:
  store::WorkerStore* workers_;
};

// One queued Agent call: its context (for the identity check) and request,
// both gRPC's until the call finishes.
template <typename Request>
struct AgentCallOf {
  const grpc::CallbackServerContext* ctx;
  const Request* request;
};

// On gRPC's callback API: a handler checks nothing itself and returns at
// once; the call waits in a group-commit queue (server/group_commit.h) of its
// kind, and a queue thread checks the caller's identity, runs the batch
// through the Scheduler in one transaction and finishes each call. So no
// gRPC thread waits on the database, and the calls of many workers share
// one transaction.
class AgentService final : public v1::Agent::CallbackService {
 public:
  struct Options {
    size_t max_batch = 256;    // calls of one kind per transaction
    int threads_per_kind = 2;  // batches of one kind in the database at once
  };
  // `workers` looks up whose a worker id or an attempt is. `metrics` may be null.
  AgentService(Scheduler* scheduler, store::WorkerStore* workers, bool plaintext_workers,
               CoordinatorMetrics* metrics, Options options);
  ~AgentService() override;

  // Answers the queued calls UNAVAILABLE and stops the queues (before the
  // server's Shutdown, which waits for every call to finish).
  void Stop();

  grpc::ServerUnaryReactor* RegisterWorker(grpc::CallbackServerContext* ctx,
                                           const v1::RegisterWorkerRequest* req,
                                           v1::RegisterWorkerResponse* resp) override;
  grpc::ServerUnaryReactor* LeaseRun(grpc::CallbackServerContext* ctx,
                                     const v1::LeaseRunRequest* req,
                                     v1::LeaseRunResponse* resp) override;
  grpc::ServerUnaryReactor* Heartbeat(grpc::CallbackServerContext* ctx,
                                      const v1::HeartbeatRequest* req,
                                      v1::HeartbeatResponse* resp) override;
  grpc::ServerUnaryReactor* ReportProgress(grpc::CallbackServerContext* ctx,
                                           const v1::ReportProgressRequest* req,
                                           v1::ReportProgressResponse* resp) override;
  grpc::ServerUnaryReactor* CompleteAttempt(grpc::CallbackServerContext* ctx,
                                            const v1::CompleteAttemptRequest* req,
                                            v1::CompleteAttemptResponse* resp) override;
  grpc::ServerUnaryReactor* FailAttempt(grpc::CallbackServerContext* ctx,
                                        const v1::FailAttemptRequest* req,
                                        v1::FailAttemptResponse* resp) override;

 private:
  template <typename Request, typename Response>
  using Queue = GroupCommit<AgentCallOf<Request>, Response>;

  template <typename Request, typename Response>
  grpc::ServerUnaryReactor* Enqueue(Queue<Request, Response>& queue,
                                    grpc::CallbackServerContext* ctx, const Request* req,
                                    Response* resp);

  Scheduler* scheduler_;
  WorkerIdentity identity_;
  std::unique_ptr<Queue<v1::RegisterWorkerRequest, v1::RegisterWorkerResponse>> register_;
  std::unique_ptr<Queue<v1::LeaseRunRequest, v1::LeaseRunResponse>> lease_;
  std::unique_ptr<Queue<v1::HeartbeatRequest, v1::HeartbeatResponse>> heartbeat_;
  std::unique_ptr<Queue<v1::ReportProgressRequest, v1::ReportProgressResponse>> progress_;
  std::unique_ptr<Queue<v1::CompleteAttemptRequest, v1::CompleteAttemptResponse>> complete_;
  std::unique_ptr<Queue<v1::FailAttemptRequest, v1::FailAttemptResponse>> fail_;
};

}  // namespace ladder
