#include "server/service/workers_service.h"

#include "common/grpc_status.h"
#include "common/logging.h"

namespace ladder {
namespace {
template <typename T, typename Resp>
grpc::Status Reply(absl::StatusOr<T> out, Resp* resp) {
  if (!out.ok()) return ToGrpcStatus(out.status());
  *resp = *std::move(out);
  return grpc::Status::OK;
}
}  // namespace

grpc::Status WorkersService::ListWorkers(grpc::ServerContext*, const v1::ListWorkersRequest* req,
                                         v1::ListWorkersResponse* resp) {
  auto out = workers_->ListWorkers(req->include_gone());
  if (!out.ok()) return ToGrpcStatus(out.status());
  for (auto& w : *out) *resp->add_workers() = std::move(w);
  return grpc::Status::OK;
}

grpc::Status WorkersService::DrainWorker(grpc::ServerContext* ctx,
                                         const v1::DrainWorkerRequest* req, v1::Worker* resp) {
  if (grpc::Status st = RequireAuthorizedAdmin(*ctx); !st.ok()) return st;
  auto out = workers_->DrainWorker(req->worker_id());
  if (out.ok()) LOG_INFO << "worker " << req->worker_id() << " asked to drain";
  return Reply(std::move(out), resp);
}

grpc::Status AgentService::RegisterWorker(grpc::ServerContext* ctx,
                                          const v1::RegisterWorkerRequest* req,
                                          v1::RegisterWorkerResponse* resp) {
  if (grpc::Status st = identity_.CheckRegister(*ctx, req->name()); !st.ok()) return st;
  return Reply(scheduler_->Register(*req), resp);
}

grpc::Status AgentService::LeaseRun(grpc::ServerContext* ctx, const v1::LeaseRunRequest* req,
                                    v1::LeaseRunResponse* resp) {
  if (grpc::Status st = identity_.CheckWorker(*ctx, req->worker_id()); !st.ok()) return st;
  return Reply(scheduler_->Lease(*req), resp);
}

grpc::Status AgentService::Heartbeat(grpc::ServerContext* ctx, const v1::HeartbeatRequest* req,
                                     v1::HeartbeatResponse* resp) {
  if (grpc::Status st = identity_.CheckWorker(*ctx, req->worker_id()); !st.ok()) return st;
  return Reply(scheduler_->Heartbeat(*req), resp);
}

grpc::Status AgentService::ReportProgress(grpc::ServerContext* ctx,
                                          const v1::ReportProgressRequest* req,
                                          v1::ReportProgressResponse* resp) {
  if (grpc::Status st = identity_.CheckAttempt(*ctx, req->attempt_id()); !st.ok()) return st;
  return Reply(scheduler_->Progress(*req), resp);
}

grpc::Status AgentService::CompleteAttempt(grpc::ServerContext* ctx,
                                           const v1::CompleteAttemptRequest* req,
                                           v1::CompleteAttemptResponse* resp) {
  if (grpc::Status st = identity_.CheckAttempt(*ctx, req->attempt_id()); !st.ok()) return st;
  return Reply(scheduler_->Complete(*req), resp);
}

grpc::Status AgentService::FailAttempt(grpc::ServerContext* ctx, const v1::FailAttemptRequest* req,
                                       v1::FailAttemptResponse* resp) {
  if (grpc::Status st = identity_.CheckAttempt(*ctx, req->attempt_id()); !st.ok()) return st;
  return Reply(scheduler_->Fail(*req), resp);
}

}  // namespace ladder
