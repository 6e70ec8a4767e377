#include "server/service/sweeps_service.h"

#include "common/grpc_status.h"
#include "common/logging.h"

namespace ladder {

grpc::Status SweepsService::CreateSweep(grpc::ServerContext*, const v1::CreateSweepRequest* req,
                                        v1::CreateSweepResponse* resp) {
  auto out = manager_->Create(req->spec_yaml(), req->dry_run());
  if (!out.ok()) return ToGrpcStatus(out.status());
  *resp = *std::move(out);
  if (!req->dry_run()) {
    LOG_INFO << "sweep " << resp->sweep().id() << " '" << resp->sweep().name() << "' created with "
             << resp->sweep().counts().total() << " runs";
  }
  return grpc::Status::OK;
}

grpc::Status SweepsService::GetSweep(grpc::ServerContext*, const v1::GetSweepRequest* req,
                                     v1::Sweep* resp) {
  auto out = manager_->Get(req->sweep_id());
  if (!out.ok()) return ToGrpcStatus(out.status());
  *resp = *std::move(out);
  return grpc::Status::OK;
}

grpc::Status SweepsService::ListSweeps(grpc::ServerContext*, const v1::ListSweepsRequest* req,
                                       v1::ListSweepsResponse* resp) {
  auto out = manager_->List(req->active_only(), req->limit());
  if (!out.ok()) return ToGrpcStatus(out.status());
  for (auto& s : *out) *resp->add_sweeps() = std::move(s);
  return grpc::Status::OK;
}

grpc::Status SweepsService::CancelSweep(grpc::ServerContext*, const v1::CancelSweepRequest* req,
                                        v1::Sweep* resp) {
  auto out = manager_->Cancel(req->sweep_id());
  if (!out.ok()) return ToGrpcStatus(out.status());
  LOG_INFO << "sweep " << req->sweep_id() << " cancelled";
  *resp = *std::move(out);
  return grpc::Status::OK;
}

grpc::ServerWriteReactor<v1::SweepEvent>* SweepsService::WatchSweep(
    grpc::CallbackServerContext* ctx, const v1::WatchSweepRequest* req) {
  return watch_hub_->Open(ctx, req->sweep_id());
}

}  // namespace ladder

namespace ladder {

grpc::Status SweepsService::ImportResults(grpc::ServerContext*, const v1::ImportResultsRequest* req,
                                          v1::Sweep* resp) {
  auto out = manager_->Import(*req);
  if (!out.ok()) return ToGrpcStatus(out.status());
  LOG_INFO << "sweep " << out->id() << " '" << req->name() << "' imported with "
           << req->results_size() << " results";
  *resp = *std::move(out);
  return grpc::Status::OK;
}

}  // namespace ladder
