// ladder.v1.Sweeps: thin handlers over SweepManager. No exception leaves a
// handler; errors are converted by ToGrpcStatus.
#pragma once

#include "ladder/v1/ladder.grpc.pb.h"
#include "server/sweep_manager.h"
#include "server/watch_hub.h"

namespace ladder {

// WatchSweep is a callback-API method served by a WatchHub, so open watch
// streams hold no thread of the server's sync pool; the other methods are
// synchronous.
class SweepsService final : public v1::Sweeps::WithCallbackMethod_WatchSweep<v1::Sweeps::Service> {
 public:
  SweepsService(SweepManager* manager, WatchHub* watch_hub)
      : manager_(manager), watch_hub_(watch_hub) {}

  grpc::Status CreateSweep(grpc::ServerContext*, const v1::CreateSweepRequest*,
                           v1::CreateSweepResponse*) override;
  grpc::Status GetSweep(grpc::ServerContext*, const v1::GetSweepRequest*, v1::Sweep*) override;
  grpc::Status ListSweeps(grpc::ServerContext*, const v1::ListSweepsRequest*,
                          v1::ListSweepsResponse*) override;
  grpc::Status CancelSweep(grpc::ServerContext*, const v1::CancelSweepRequest*,
                           v1::Sweep*) override;
  grpc::ServerWriteReactor<v1::SweepEvent>* WatchSweep(grpc::CallbackServerContext*,
                                                       const v1::WatchSweepRequest*) override;
  grpc::Status ImportResults(grpc::ServerContext*, const v1::ImportResultsRequest*,
                             v1::Sweep*) override;

 private:
  SweepManager* manager_;
  WatchHub* watch_hub_;
};

}  // namespace ladder
