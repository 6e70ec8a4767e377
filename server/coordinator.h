// The coordinator: one object that owns the database pool, the stores, the
// scheduler's maintenance loop and the gRPC server, built from validated
// options by BuildAndStart (TF Serving's model_servers shape).
//
// Thread-safe: Shutdown may be called from any thread (e.g. a signal
// watcher) while Wait blocks in main.
#pragma once

#include <absl/status/statusor.h>
#include <grpcpp/grpcpp.h>

#include <memory>

#include "server/coordinator_options.h"

namespace ladder {

namespace store {
class PgPool;
class SweepStore;
class LeaseStore;
class WorkerStore;
}  // namespace store
class SweepManager;
class Scheduler;
class SchedulerStore;
class PgFitData;
class SweepsService;
class RunsService;
class WorkersService;
class AgentService;
class CoordinatorMetrics;
class AdminService;
class RequestAuthorizer;
class FitCache;
class FitQueries;
class FitsService;
class Backtests;
class RefitLoop;
class MetricsHttpServer;
class WatchHub;
namespace store {
class StatsStore;
class TokenStore;
class FitStore;
}  // namespace store

class Coordinator {
 public:
  // Validates `options`, connects to PostgreSQL, applies migrations, and
  // starts serving. UNAVAILABLE if the database cannot be reached.
  static absl::StatusOr<std::unique_ptr<Coordinator>> BuildAndStart(
      const CoordinatorOptions& options);
  ~Coordinator();

  // The port actually bound (useful with listen port 0).
  int port() const { return port_; }
  // Stops accepting RPCs, waits up to `grace` for in-flight ones (watch
  // streams are cancelled), stops the maintenance loop.
  void Shutdown(std::chrono::milliseconds grace = std::chrono::milliseconds(5000));
  // Blocks until the server has shut down.
  void Wait();

  // The port /metrics is served on (0 if metrics are off).
  int metrics_port() const;
  CoordinatorMetrics* metrics() { return metrics_.get(); }
  store::PgPool* pool() { return pool_.get(); }
  Scheduler* scheduler() { return scheduler_.get(); }
  RefitLoop* refit_loop() { return refit_loop_.get(); }
  Backtests* backtests() { return backtests_.get(); }

 private:
  explicit Coordinator(CoordinatorOptions options);
  absl::Status Start();

  const CoordinatorOptions options_;
  std::unique_ptr<store::PgPool> pool_;
  std::unique_ptr<store::SweepStore> sweep_store_;
  std::unique_ptr<store::LeaseStore> lease_store_;
  std::unique_ptr<store::WorkerStore> worker_store_;
  std::unique_ptr<store::StatsStore> stats_store_;
  std::unique_ptr<store::TokenStore> token_store_;
  std::shared_ptr<RequestAuthorizer> authorizer_;
  std::unique_ptr<AdminService> admin_service_;
  std::unique_ptr<store::FitStore> fit_store_;
  std::unique_ptr<PgFitData> fit_data_;
  std::unique_ptr<FitCache> fit_cache_;
  std::unique_ptr<RefitLoop> refit_loop_;
  std::unique_ptr<FitQueries> fit_queries_;
  std::unique_ptr<Backtests> backtests_;
  std::unique_ptr<FitsService> fits_service_;
  std::unique_ptr<CoordinatorMetrics> metrics_;
  std::unique_ptr<MetricsHttpServer> metrics_server_;
  std::unique_ptr<SweepManager> sweep_manager_;
  std::unique_ptr<SchedulerStore> scheduler_store_;
  std::unique_ptr<Scheduler> scheduler_;
  std::unique_ptr<WatchHub> watch_hub_;  // outlives server_, which it serves
  std::unique_ptr<SweepsService> sweeps_service_;
  std::unique_ptr<RunsService> runs_service_;
  std::unique_ptr<WorkersService> workers_service_;
  std::unique_ptr<AgentService> agent_service_;
  std::unique_ptr<grpc::Server> server_;
  int port_ = 0;
};

}  // namespace ladder
