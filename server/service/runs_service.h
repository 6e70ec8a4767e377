// ladder.v1.Runs: thin handlers over the sweep store.
#pragma once

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/store/sweep_store.h"

namespace ladder {

class RunsService final : public v1::Runs::Service {
 public:
  explicit RunsService(store::SweepStore* sweeps) : sweeps_(sweeps) {}
  grpc::Status ListRuns(grpc::ServerContext*, const v1::ListRunsRequest*,
                        v1::ListRunsResponse*) override;
  grpc::Status GetRun(grpc::ServerContext*, const v1::GetRunRequest*, v1::Run*) override;

 private:
  store::SweepStore* sweeps_;
};

}  // namespace ladder
