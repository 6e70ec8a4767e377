#include "server/coordinator_metrics.h"

#include <chrono>
#include <cstdlib>

#include "common/enums/enums.h"
#include "common/grpc_status.h"

namespace ladder {
namespace {

using prometheus::BuildCounter;
using prometheus::BuildGauge;
using prometheus::BuildHistogram;

const prometheus::Histogram::BucketBoundaries kLatencyBuckets = {
    0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025,
    0.05,   0.1,     0.25,   0.5,   1,      2.5,   5,    10};
const prometheus::Histogram::BucketBoundaries kRefitBuckets = {0.01, 0.05, 0.1, 0.25, 0.5, 1,
                                                               2,    5,    10,  30,   60,  120};

// Times one RPC from its creation to the moment its status is sent.
class RpcTimer : public grpc::experimental::Interceptor {
 public:
  RpcTimer(CoordinatorMetrics* metrics, std::string method)
      : metrics_(metrics), method_(std::move(method)), start_(std::chrono::steady_clock::now()) {}

  void Intercept(grpc::experimental::InterceptorBatchMethods* methods) override {
    if (methods->QueryInterceptionHookPoint(
            grpc::experimental::InterceptionHookPoints::PRE_SEND_STATUS)) {
      const grpc::Status status = methods->GetSendStatus();
      const double seconds =
          std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
      metrics_->ObserveRpc(method_, GrpcCodeName(status.error_code()), seconds);
    }
    methods->Proceed();
  }

 private:
  CoordinatorMetrics* metrics_;
  const std::string method_;
  const std::chrono::steady_clock::time_point start_;
};

class RpcTimerFactory : public grpc::experimental::ServerInterceptorFactoryInterface {
 public:
  explicit RpcTimerFactory(CoordinatorMetrics* metrics) : metrics_(metrics) {}
  grpc::experimental::Interceptor* CreateServerInterceptor(
      grpc::experimental::ServerRpcInfo* info) override {
    std::string method = info->method();  // "/ladder.v1.Agent/LeaseRun"
    if (auto slash = method.rfind('/'); slash != std::string::npos && slash > 0) {
      const std::string service = method.substr(1, slash - 1);
      method = service.substr(service.rfind('.') + 1) + "." + method.substr(slash + 1);
    }
    return new RpcTimer(metrics_, method);
  }

 private:
  CoordinatorMetrics* metrics_;
};

}  // namespace

std::string BoundedReason(const std::string& r) {
  static const std::set<std::string> kKnown = {"",
                                               "crashed",
                                               "timeout",
                                               "protocol_error",
                                               "diverged",
                                               "non_finite",
                                               "bad_config",
                                               "data",
                                               "internal",
                                               "drained",
                                               "cancelled",
                                               "lease_expired",
                                               "worker_restarted",
                                               "bad_result"};
  return kKnown.count(r) ? r : "other";
}

std::set<std::string> SweepsWithSeries(const SchedulingSnapshot& snapshot, int ended_kept) {
  std::map<int64_t, bool> live;  // sweep id -> has a queued, leased or running run
  std::map<int64_t, std::string> names;
  for (const auto& r : snapshot.runs_by_sweep) {
    const int64_t id = std::strtoll(r.sweep.c_str(), nullptr, 10);
    names[id] = r.sweep;
    const auto state = enums::Parse<enums::RunState>(r.state);
    live[id] |=
        r.count > 0 && state && (*state == enums::RunState::kQueued || enums::IsLive(*state));
  }
  std::set<std::string> kept;
  int ended = 0;
  for (auto it = live.rbegin(); it != live.rend(); ++it) {  // newest first
    if (it->second || ended++ < ended_kept) kept.insert(names[it->first]);
  }
  return kept;
}

CoordinatorMetrics::CoordinatorMetrics(int ended_sweeps_kept)
    : registry_(std::make_shared<prometheus::Registry>()),
      rpc_seconds_(BuildHistogram()
                       .Name("ladder_rpc_duration_seconds")
                       .Help("Time to handle a gRPC call, by method and status code")
                       .Register(*registry_)),
      lease_seconds_(BuildHistogram()
                         .Name("ladder_lease_duration_seconds")
                         .Help("Time to run the lease transaction, by whether a run was granted")
                         .Register(*registry_)),
      agent_batches_(BuildCounter()
                         .Name("ladder_agent_batches_total")
                         .Help("Group-commit transactions of Agent calls, by call")
                         .Register(*registry_)),
      agent_batched_calls_(
          BuildCounter()
              .Name("ladder_agent_batched_calls_total")
              .Help("Agent calls written by group-commit transactions, by call (divided by "
                    "ladder_agent_batches_total: the mean batch)")
              .Register(*registry_)),
      agent_queue_seconds_(
          BuildHistogram()
              .Name("ladder_agent_queue_wait_seconds")
              .Help("How long the oldest call of a group-commit batch waited for it, by call")
              .Register(*registry_)),
      leases_(
          BuildCounter()
              .Name("ladder_leases_total")
              .Help("Runs leased (granted=\"true\", one per run) and lease requests that got none "
                    "(granted=\"false\")")
              .Register(*registry_)),
      leases_expired_(
          BuildCounter()
              .Name("ladder_leases_expired_total")
              .Help("Leases that expired without a heartbeat (their runs were requeued or failed)")
              .Register(*registry_)),
      attempts_ended_(BuildCounter()
                          .Name("ladder_attempts_ended_total")
                          .Help("Attempts ended, by outcome and failure reason")
                          .Register(*registry_)),
      refit_seconds_(BuildHistogram()
                         .Name("ladder_refit_duration_seconds")
                         .Help("Time to refit a sweep's scaling laws, by status")
                         .Register(*registry_)),
      backtest_seconds_(BuildHistogram()
                            .Name("ladder_backtest_duration_seconds")
                            .Help("Time to compute a backtest (off the RPC path), by status")
                            .Register(*registry_)),
      backtests_(BuildCounter()
                     .Name("ladder_backtests_total")
                     .Help("Backtest calls, by how they were answered")
                     .Register(*registry_)),
      runs_(BuildGauge()
                .Name("ladder_runs")
                .Help("Runs by sweep and state (active and recently finished sweeps)")
                .Register(*registry_)),
      queue_depth_(BuildGauge()
                       .Name("ladder_queue_depth")
                       .Help("Runs queued and waiting for a worker, over all sweeps")
                       .Register(*registry_)),
      workers_(
          BuildGauge().Name("ladder_workers").Help("Worker daemons by state").Register(*registry_)),
      run_tokens_per_second_(BuildGauge()
                                 .Name("ladder_run_tokens_per_second")
                                 .Help("Training throughput of each running run, as last reported")
                                 .Register(*registry_)),
      run_flops_per_second_(BuildGauge()
                                .Name("ladder_run_flops_per_second")
                                .Help("Model FLOP/s of each running run (exact count x tokens/s)")
                                .Register(*registry_)),
      fit_parameter_(BuildGauge()
                         .Name("ladder_fit_parameter")
                         .Help("Latest fitted scaling-law parameter (e.g. alpha, beta, E)")
                         .Register(*registry_)),
      predicted_loss_(
          BuildGauge()
              .Name("ladder_predicted_loss")
              .Help("Predicted eval loss (nats/token) at the sweep's target compute, latest fit")
              .Register(*registry_)),
      predicted_at_compute_(
          BuildGauge()
              .Name("ladder_prediction_target_flops")
              .Help("The target compute (FLOPs) that ladder_predicted_loss refers to")
              .Register(*registry_)),
      predicted_epochs_(
          BuildGauge()
              .Name("ladder_predicted_epochs")
              .Help("Epochs of the sweep's corpus the target compute would train for, by the "
                    "sweep's tokens-per-compute recipe; above 1 the fresh-data law is optimistic")
              .Register(*registry_)),
      parameters_at_bound_(BuildGauge()
                               .Name("ladder_fit_parameters_at_bound")
                               .Help("Parameters of the latest fit whose estimate sits on a "
                                     "bound of the fit (E = 0, an exponent at its cap)")
                               .Register(*registry_)),
      ended_sweeps_kept_(ended_sweeps_kept) {
  // Make the bounded counters visible from the first scrape.
  leases_.Add({{"granted", "true"}});
  leases_.Add({{"granted", "false"}});
  leases_expired_.Add({});
  queue_depth_.Add({});
}

void CoordinatorMetrics::ObserveRpc(const std::string& method, const std::string& code,
                                    double seconds) {
  rpc_seconds_.Add({{"method", method}, {"code", code}}, kLatencyBuckets).Observe(seconds);
}

void CoordinatorMetrics::ObserveLease(int granted, double seconds) {
  const std::string g = granted > 0 ? "true" : "false";
  leases_.Add({{"granted", g}}).Increment(granted > 0 ? granted : 1);
  lease_seconds_.Add({{"granted", g}}, kLatencyBuckets).Observe(seconds);
}

void CoordinatorMetrics::ObserveAgentBatch(const std::string& call, size_t calls,
                                           double wait_seconds) {
  agent_batches_.Add({{"call", call}}).Increment();
  agent_batched_calls_.Add({{"call", call}}).Increment(static_cast<double>(calls));
  agent_queue_seconds_.Add({{"call", call}}, kLatencyBuckets).Observe(wait_seconds);
}

void CoordinatorMetrics::CountAttemptEnded(const std::string& outcome, const std::string& reason) {
  attempts_ended_.Add({{"outcome", outcome}, {"reason", BoundedReason(reason)}}).Increment();
}

void CoordinatorMetrics::CountLeasesExpired(double n) { leases_expired_.Add({}).Increment(n); }

void CoordinatorMetrics::ObserveRefit(double seconds, const std::string& status) {
  refit_seconds_.Add({{"status", status}}, kRefitBuckets).Observe(seconds);
}

void CoordinatorMetrics::ObserveBacktest(double seconds, const std::string& status) {
  backtest_seconds_.Add({{"status", status}}, kRefitBuckets).Observe(seconds);
}

void CoordinatorMetrics::CountBacktestAnswer(const std::string& answer) {
  backtests_.Add({{"answer", answer}}).Increment();
}

void CoordinatorMetrics::Update(const SchedulingSnapshot& s) {
  std::lock_guard<std::mutex> lock(mu_);
  auto replace = [](prometheus::Family<prometheus::Gauge>& family,
                    std::set<prometheus::Gauge*>& live, std::set<prometheus::Gauge*>& now) {
    for (prometheus::Gauge* g : live) {
      if (!now.count(g)) family.Remove(g);
    }
    live = std::move(now);
  };
  ++updates_;
  const std::set<std::string> kept = SweepsWithSeries(s, ended_sweeps_kept_);
  // Fit series set before the previous Update began were set before this
  // snapshot was read, so a sweep missing from `kept` is truly ended (or
  // gone), not too new to be listed.
  for (auto it = fit_series_.begin(); it != fit_series_.end();) {
    if (kept.count(it->first) || it->second.set_at_update + 2 > updates_) {
      ++it;
      continue;
    }
    for (auto [family, gauge] : it->second.gauges) family->Remove(gauge);
    it = fit_series_.erase(it);
  }
  std::set<prometheus::Gauge*> runs, tps, fps, workers;
  for (const auto& r : s.runs_by_sweep) {
    if (!kept.count(r.sweep)) continue;
    auto& g = runs_.Add({{"sweep", r.sweep}, {"state", r.state}});
    g.Set(r.count);
    runs.insert(&g);
  }
  replace(runs_, live_runs_, runs);
  queue_depth_.Add({}).Set(s.queue_depth);
  for (const char* state : {"active", "draining", "gone"}) {
    auto it = s.workers_by_state.find(state);
    auto& g = workers_.Add({{"state", state}});
    g.Set(it == s.workers_by_state.end() ? 0 : it->second);
    workers.insert(&g);
  }
  live_workers_ = std::move(workers);
  for (const auto& r : s.running) {
    auto& a =
        run_tokens_per_second_.Add({{"sweep", r.sweep}, {"run", r.run}, {"family", r.family}});
    a.Set(r.tokens_per_second);
    tps.insert(&a);
    auto& b = run_flops_per_second_.Add({{"sweep", r.sweep}, {"run", r.run}, {"family", r.family}});
    b.Set(r.flops_per_second);
    fps.insert(&b);
  }
  replace(run_tokens_per_second_, live_running_tps_, tps);
  replace(run_flops_per_second_, live_running_fps_, fps);
}

void CoordinatorMetrics::NoteFitSeries(const std::string& sweep,
                                       prometheus::Family<prometheus::Gauge>* family,
                                       prometheus::Gauge* gauge) {
  FitSeries& f = fit_series_[sweep];
  f.gauges.insert({family, gauge});
  f.set_at_update = updates_;
}

void CoordinatorMetrics::SetFitParameter(const std::string& sweep, const std::string& family,
                                         const std::string& form, const std::string& parameter,
                                         double value) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& g = fit_parameter_.Add(
      {{"sweep", sweep}, {"family", family}, {"form", form}, {"parameter", parameter}});
  g.Set(value);
  NoteFitSeries(sweep, &fit_parameter_, &g);
}

void CoordinatorMetrics::SetPredictedLoss(const std::string& sweep, const std::string& family,
                                          double compute, double loss) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& l = predicted_loss_.Add({{"sweep", sweep}, {"family", family}});
  l.Set(loss);
  NoteFitSeries(sweep, &predicted_loss_, &l);
  auto& c = predicted_at_compute_.Add({{"sweep", sweep}});
  c.Set(compute);
  NoteFitSeries(sweep, &predicted_at_compute_, &c);
}

void CoordinatorMetrics::SetPredictedEpochs(const std::string& sweep, const std::string& family,
                                            double epochs) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& g = predicted_epochs_.Add({{"sweep", sweep}, {"family", family}});
  g.Set(epochs);
  NoteFitSeries(sweep, &predicted_epochs_, &g);
}

void CoordinatorMetrics::SetParametersAtBound(const std::string& sweep, const std::string& family,
                                              const std::string& form, int count) {
  std::lock_guard<std::mutex> lock(mu_);
  auto& g = parameters_at_bound_.Add({{"sweep", sweep}, {"family", family}, {"form", form}});
  g.Set(count);
  NoteFitSeries(sweep, &parameters_at_bound_, &g);
}

std::unique_ptr<grpc::experimental::ServerInterceptorFactoryInterface>
CoordinatorMetrics::MakeRpcInterceptorFactory() {
  return std::make_unique<RpcTimerFactory>(this);
}

}  // namespace ladder
