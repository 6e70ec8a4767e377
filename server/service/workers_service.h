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

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/auth/request_authorizer.h"
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

class AgentService final : public v1::Agent::Service {
 public:
  // `workers` looks up whose a worker id or an attempt is.
  AgentService(Scheduler* scheduler, store::WorkerStore* workers, bool plaintext_workers)
      : scheduler_(scheduler), identity_(workers, plaintext_workers) {}
  grpc::Status RegisterWorker(grpc::ServerContext*, const v1::RegisterWorkerRequest*,
                              v1::RegisterWorkerResponse*) override;
  grpc::Status LeaseRun(grpc::ServerContext*, const v1::LeaseRunRequest*,
                        v1::LeaseRunResponse*) override;
  grpc::Status Heartbeat(grpc::ServerContext*, const v1::HeartbeatRequest*,
                         v1::HeartbeatResponse*) override;
  grpc::Status ReportProgress(grpc::ServerContext*, const v1::ReportProgressRequest*,
                              v1::ReportProgressResponse*) override;
  grpc::Status CompleteAttempt(grpc::ServerContext*, const v1::CompleteAttemptRequest*,
                               v1::CompleteAttemptResponse*) override;
  grpc::Status FailAttempt(grpc::ServerContext*, const v1::FailAttemptRequest*,
                           v1::FailAttemptResponse*) override;

 private:
  Scheduler* scheduler_;
  WorkerIdentity identity_;
};

}  // namespace ladder
