// The coordinator's Prometheus metrics (prometheus-cpp core registry,
// served by MetricsHttpServer). Names follow Prometheus conventions: base
// units, `_total` counters, `_seconds` durations; label sets are bounded
// (sweep labels only for active or recently finished sweeps, run labels only
// for running runs, reasons from a fixed list).
//
// Per-sweep series (ladder_runs, ladder_fit_parameter, ladder_predicted_loss,
// ladder_predicted_epochs, ladder_fit_parameters_at_bound,
// ladder_prediction_target_flops) are exported for the sweeps the latest
// snapshot lists (active, or ended within its window) that are active or
// among the `ended_sweeps_kept` most recent ended ones (by id); the others'
// series are removed, so a stream of finished or imported sweeps cannot grow
// /metrics without bound. A sweep's final fits stay visible until that many
// newer sweeps have ended (or the snapshot's window passes), so a scrape
// sees them; Prometheus keeps their history.
//
// Thread-safe.
#pragma once

#include <grpcpp/support/server_interceptor.h>
#include <prometheus/counter.h>
#include <prometheus/family.h>
#include <prometheus/gauge.h>
#include <prometheus/histogram.h>
#include <prometheus/registry.h>

#include <cstdint>
#include <map>
#include <memory>
#include <mutex>
#include <set>
#include <string>
#include <utility>
#include <vector>

#include "server/store/stats_store.h"

namespace ladder {

// What the gauges show, as the stats store reads it.
using store::SchedulingSnapshot;

class CoordinatorMetrics {
 public:
  static constexpr int kEndedSweepsKept = 8;
  explicit CoordinatorMetrics(int ended_sweeps_kept = kEndedSweepsKept);

  std::shared_ptr<prometheus::Registry> registry() { return registry_; }

  void ObserveRpc(const std::string& method, const std::string& code, double seconds);
  // `granted`: runs leased by one request (several with device_indexes).
  void ObserveLease(int granted, double seconds);
  // One group-commit batch of Agent calls (server/group_commit.h).
  void ObserveAgentBatch(const std::string& call, size_t calls, double wait_seconds);
  void CountAttemptEnded(const std::string& outcome, const std::string& reason);
  void CountLeasesExpired(double n);
  void ObserveRefit(double seconds, const std::string& status);
  // A backtest computed (status ok or failed), and how each Backtest call
  // was answered: computed (it waited for a computation), cached,
  // still_computing (its deadline came first) or unavailable (queue full,
  // stopping).
  void ObserveBacktest(double seconds, const std::string& status);
  void CountBacktestAnswer(const std::string& answer);
  // Gauges from a fresh snapshot; label sets absent from it are removed, and
  // so are the per-sweep series of sweeps it does not keep (see above).
  // Called from one thread (the scheduler's maintenance loop), each call
  // with a snapshot read after the previous call returned.
  void Update(const SchedulingSnapshot& snapshot);
  // Fitted parameters and predictions (set by the refit loop). A sweep's fit
  // series are removed by the first Update whose snapshot was surely read
  // after they were set and does not keep the sweep.
  void SetFitParameter(const std::string& sweep, const std::string& family, const std::string& form,
                       const std::string& parameter, double value);
  void SetPredictedLoss(const std::string& sweep, const std::string& family, double compute,
                        double loss);
  // The epochs of the sweep's corpus the target compute would train for
  // (ladder_predicted_epochs; > 1: the fresh-data law is optimistic there).
  void SetPredictedEpochs(const std::string& sweep, const std::string& family, double epochs);
  // How many of a fit's parameters sit on a bound (E = 0, ...).
  void SetParametersAtBound(const std::string& sweep, const std::string& family,
                            const std::string& form, int count);

  // Creates a server interceptor that times every RPC by method and code.
  std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
  MakeRpcInterceptorFactory();

 private:
  std::shared_ptr<prometheus::Registry> registry_;
  prometheus::Family<prometheus::Histogram>& rpc_seconds_;
  prometheus::Family<prometheus::Histogram>& lease_seconds_;
  prometheus::Family<prometheus::Counter>& agent_batches_;
  prometheus::Family<prometheus::Counter>& agent_batched_calls_;
  prometheus::Family<prometheus::Histogram>& agent_queue_seconds_;
  prometheus::Family<prometheus::Counter>& leases_;
  prometheus::Family<prometheus::Counter>& leases_expired_;
  prometheus::Family<prometheus::Counter>& attempts_ended_;
  prometheus::Family<prometheus::Histogram>& refit_seconds_;
  prometheus::Family<prometheus::Histogram>& backtest_seconds_;
  prometheus::Family<prometheus::Counter>& backtests_;
  prometheus::Family<prometheus::Gauge>& runs_;
  prometheus::Family<prometheus::Gauge>& queue_depth_;
  prometheus::Family<prometheus::Gauge>& workers_;
  prometheus::Family<prometheus::Gauge>& run_tokens_per_second_;
  prometheus::Family<prometheus::Gauge>& run_flops_per_second_;
  prometheus::Family<prometheus::Gauge>& fit_parameter_;
  prometheus::Family<prometheus::Gauge>& predicted_loss_;
  prometheus::Family<prometheus::Gauge>& predicted_at_compute_;
  prometheus::Family<prometheus::Gauge>& predicted_epochs_;
  prometheus::Family<prometheus::Gauge>& parameters_at_bound_;

  const int ended_sweeps_kept_;

  // A sweep's fit series: (family, gauge) pairs, and the number of Updates
  // begun when they were last set.
  struct FitSeries {
    std::set<std::pair<prometheus::Family<prometheus::Gauge>*, prometheus::Gauge*>> gauges;
    uint64_t set_at_update = 0;
  };
  void NoteFitSeries(const std::string& sweep, prometheus::Family<prometheus::Gauge>* family,
                     prometheus::Gauge* gauge);  // requires mu_

  std::mutex mu_;  // guards the label sets below (for removal of stale ones)
  std::set<prometheus::Gauge*> live_runs_, live_running_tps_, live_running_fps_, live_workers_;
  std::map<std::string, FitSeries> fit_series_;  // by sweep id
  uint64_t updates_ = 0;                         // Updates begun
};

// The sweeps of `snapshot` whose per-sweep series are kept: every sweep with
// a queued, leased or running run, and the `ended_kept` highest-numbered
// others.
std::set<std::string> SweepsWithSeries(const SchedulingSnapshot& snapshot, int ended_kept);

// Loss-of-attempt reasons are copied to a label only if they are one of
// these; anything else becomes "other" (bounded label sets).
std::string BoundedReason(const std::string& reason);

}  // namespace ladder
