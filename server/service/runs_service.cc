#include "server/service/runs_service.h"

#include "common/grpc_status.h"

namespace ladder {

grpc::Status RunsService::ListRuns(grpc::ServerContext*, const v1::ListRunsRequest* req,
                                   v1::ListRunsResponse* resp) {
  auto out = manager_->ListRuns(*req);
  if (!out.ok()) return ToGrpcStatus(out.status());
  *resp = *std::move(out);
  return grpc::Status::OK;
}

grpc::Status RunsService::GetRun(grpc::ServerContext*, const v1::GetRunRequest* req,
                                 v1::Run* resp) {
  auto out = manager_->GetRun(req->run_id(), req->include_curve());
  if (!out.ok()) return ToGrpcStatus(out.status());
  *resp = *std::move(out);
  return grpc::Status::OK;
}

}  // namespace ladder
