// ladder.v1.Fits: thin handlers over FitQueries.
#pragma once

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/fit_queries.h"

namespace ladder {

class FitsService final : public v1::Fits::Service {
 public:
  explicit FitsService(FitQueries* queries) : queries_(queries) {}
  grpc::Status GetFit(grpc::ServerContext*, const v1::GetFitRequest*, v1::GetFitResponse*) override;
  grpc::Status ListFitHistory(grpc::ServerContext*, const v1::ListFitHistoryRequest*,
                              v1::ListFitHistoryResponse*) override;
  grpc::Status PredictLoss(grpc::ServerContext*, const v1::PredictLossRequest*,
                           v1::PredictLossResponse*) override;
  grpc::Status OptimalAllocation(grpc::ServerContext*, const v1::OptimalAllocationRequest*,
                                 v1::OptimalAllocationResponse*) override;
  grpc::Status CompareFamilies(grpc::ServerContext*, const v1::CompareFamiliesRequest*,
                               v1::CompareFamiliesResponse*) override;

 private:
  FitQueries* queries_;
};

}  // namespace ladder
