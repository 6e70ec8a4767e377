// ladder.v1.Runs: thin handlers over SweepManager (runs belong to sweeps).
#pragma once

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/sweep_manager.h"

namespace ladder {

class RunsService final : public v1::Runs::Service {
 public:
  explicit RunsService(SweepManager* manager) : manager_(manager) {}
  grpc::Status ListRuns(grpc::ServerContext*, const v1::ListRunsRequest*,
                        v1::ListRunsResponse*) override;
  grpc::Status GetRun(grpc::ServerContext*, const v1::GetRunRequest*, v1::Run*) override;

 private:
  SweepManager* manager_;
};

}  // namespace ladder
