// ladder.v1.Fits: thin handlers over FitQueries (and Backtests, whose
// handler only waits: the backtest is computed on Backtests' own threads).
#pragma once

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/backtests.h"
#include "server/fit_queries.h"

namespace ladder {

class FitsService final : public v1::Fits::Service {
 public:
  FitsService(FitQueries* queries, Backtests* backtests)
      : queries_(queries), backtests_(backtests) {}
  grpc::Status GetFit(grpc::ServerContext*, const v1::GetFitRequest*, v1::GetFitResponse*) override;
  grpc::Status ListFitHistory(grpc::ServerContext*, const v1::ListFitHistoryRequest*,
                              v1::ListFitHistoryResponse*) override;
  grpc::Status PredictLoss(grpc::ServerContext*, const v1::PredictLossRequest*,
                           v1::PredictLossResponse*) override;
  grpc::Status OptimalAllocation(grpc::ServerContext*, const v1::OptimalAllocationRequest*,
                                 v1::OptimalAllocationResponse*) override;
  grpc::Status CompareFamilies(grpc::ServerContext*, const v1::CompareFamiliesRequest*,
                               v1::CompareFamiliesResponse*) override;
  grpc::Status Backtest(grpc::ServerContext*, const v1::BacktestRequest*,
                        v1::BacktestResponse*) override;

 private:
  FitQueries* queries_;
  Backtests* backtests_;
};

}  // namespace ladder
