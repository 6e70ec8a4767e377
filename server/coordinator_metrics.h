// The coordinator's Prometheus metrics (prometheus-cpp core registry,
// served by MetricsHttpServer). Names follow Prometheus conventions: base
// units, `_total` counters, `_seconds` durations; label sets are bounded
// (sweep labels only for active or recently finished sweeps, run labels only
// for running runs, reasons from a fixed list).
//
// Thread-safe.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <vector>

namespace ladder {

// A snapshot of scheduling state read from the database for gauges.
struct SchedulingSnapshot {
  struct SweepRuns {
    std::string sweep;  // id as text
    std::string state;  // run state
    double count = 0;
  };
  struct RunningRun {
    std::string sweep, run, family;
    double tokens_per_second = 0;
    double flops_per_second = 0;
  };
  std::vector<SweepRuns> runs_by_sweep;
  std::map<std::string, double> workers_by_state;
  double queue_depth = 0;
  std::vector<RunningRun> running;
};

class CoordinatorMetrics {
 public:
  CoordinatorMetrics();

  std::shared_ptr<prometheus::Registry> registry() { return registry_; }

  void ObserveRpc(const std::string& method, const std::string& code, double seconds);
  void ObserveLease(bool granted, double seconds);
  void CountAttemptEnded(const std::string& outcome, const std::string& reason);
  void CountLeasesExpired(double n);
  void ObserveRefit(double seconds, const std::string& status);
  // Gauges from a fresh snapshot; label sets absent from it are removed.
  void Update(const SchedulingSnapshot& snapshot);
  // Fitted parameters and predictions (set by the refit loop).
  void SetFitParameter(const std::string& sweep, const std::string& family, const std::string& form,
                       const std::string& parameter, double value);
  void SetPredictedLoss(const std::string& sweep, const std::string& family, double compute,
                        double loss);

  // Creates a server interceptor that times every RPC by method and code.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  MakeRpcInterceptorFactory();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_;
  prometheus::Family<prometheus::Histogram>& lease_seconds_;
  prometheus::Family<prometheus::Counter>& leases_;
  prometheus::Family<prometheus::Counter>& leases_expired_;
  prometheus::Family<prometheus::Counter>& attempts_ended_;
  prometheus::Family<prometheus::Histogram>& refit_seconds_;
  prometheus::Family<prometheus::Gauge>& runs_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Gauge>& workers_;
  prometheus::Family<prometheus::Gauge>& run_tokens_per_second_;
  prometheus::Family<prometheus::Gauge>& run_flops_per_second_;
  prometheus::Family<prometheus::Gauge>& fit_parameter_;
  prometheus::Family<prometheus::Gauge>& predicted_loss_;
  prometheus::Family<prometheus::Gauge>& predicted_at_compute_;

  std::mutex mu_;  // guards the label sets below (for removal of stale ones)
  std::set<prometheus::Gauge*> live_runs_, live_running_tps_, live_running_fps_, live_workers_;
};

// Loss-of-attempt reasons are copied to a label only if they are one of
// these; anything else becomes "other" (bounded label sets).
std::string BoundedReason(const std::string& reason);

}  // namespace ladder
