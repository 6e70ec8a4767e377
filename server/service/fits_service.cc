#include "server/service/fits_service.h"

#include "common/grpc_status.h"

namespace ladder {
namespace {
template <typename T, typename Resp>
grpc::Status Reply(absl::StatusOr<T> out, Resp* resp) {
  if (!out.ok()) return ToGrpcStatus(out.status());
  *resp = *std::move(out);
  return grpc::Status::OK;
}
}  // namespace

grpc::Status FitsService::GetFit(grpc::ServerContext*, const v1::GetFitRequest* req,
                                 v1::GetFitResponse* resp) {
  return Reply(queries_->GetFit(*req), resp);
}
grpc::Status FitsService::ListFitHistory(grpc::ServerContext*, const v1::ListFitHistoryRequest* req,
                                         v1::ListFitHistoryResponse* resp) {
  return Reply(queries_->History(*req), resp);
}
grpc::Status FitsService::PredictLoss(grpc::ServerContext*, const v1::PredictLossRequest* req,
                                      v1::PredictLossResponse* resp) {
  return Reply(queries_->PredictLoss(*req), resp);
}
grpc::Status FitsService::OptimalAllocation(grpc::ServerContext*,
                                            const v1::OptimalAllocationRequest* req,
                                            v1::OptimalAllocationResponse* resp) {
  return Reply(queries_->Optimal(*req), resp);
}
grpc::Status FitsService::CompareFamilies(grpc::ServerContext*,
                                          const v1::CompareFamiliesRequest* req,
                                          v1::CompareFamiliesResponse* resp) {
  return Reply(queries_->Compare(*req), resp);
}
grpc::Status FitsService::Backtest(grpc::ServerContext* ctx, const v1::BacktestRequest* req,
                                   v1::BacktestResponse* resp) {
  // The caller's deadline bounds the wait (Backtests caps a call without one).
  const auto left = std::chrono::duration_cast<std::chrono::milliseconds>(
      ctx->deadline() - std::chrono::system_clock::now());
  return Reply(backtests_->Run(*req, left), resp);
}

}  // namespace ladder
