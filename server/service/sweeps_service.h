// ladder.v1.Sweeps: thin handlers over SweepManager. No exception leaves a
// handler; errors are converted by ToGrpcStatus.
#pragma once

#include <chrono>
#include <functional>

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/sweep_manager.h"

namespace ladder {

class SweepsService final : public v1::Sweeps::Service {
 public:
  // `add_fits` (optional) appends fits stored since watch->last_fit_id to a
  // watch event, so watchers see new fits as they land.
  using AddFitsFn = std::function<void(int64_t sweep_id, SweepWatch* watch, v1::SweepEvent* event)>;

  SweepsService(SweepManager* manager, std::chrono::milliseconds watch_poll)
      : manager_(manager), watch_poll_(watch_poll) {}
  void SetAddFits(AddFitsFn fn) { add_fits_ = std::move(fn); }

  grpc::Status CreateSweep(grpc::ServerContext*, const v1::CreateSweepRequest*,
                           v1::CreateSweepResponse*) override;
  grpc::Status GetSweep(grpc::ServerContext*, const v1::GetSweepRequest*, v1::Sweep*) override;
  grpc::Status ListSweeps(grpc::ServerContext*, const v1::ListSweepsRequest*,
                          v1::ListSweepsResponse*) override;
  grpc::Status CancelSweep(grpc::ServerContext*, const v1::CancelSweepRequest*,
                           v1::Sweep*) override;
  grpc::Status WatchSweep(grpc::ServerContext*, const v1::WatchSweepRequest*,
                          grpc::ServerWriter<v1::SweepEvent>*) override;
  grpc::Status ImportResults(grpc::ServerContext*, const v1::ImportResultsRequest*,
                             v1::Sweep*) override;

  // Told of every sweep whose results changed outside the agent path (imports).
  void SetOnImported(std::function<void(int64_t sweep_id)> fn) { on_imported_ = std::move(fn); }

 private:
  SweepManager* manager_;
  const std::chrono::milliseconds watch_poll_;
  AddFitsFn add_fits_;
  std::function<void(int64_t)> on_imported_;
};

}  // namespace ladder
