// Coordinator load benchmark. SIMULATED workers (threads speaking the Agent
// API; no trainer runs) hammer a real ladder-coordinator and PostgreSQL:
//
//   cycles   N workers each loop LeaseRun -> CompleteAttempt as fast as they
//            can; reports lease+complete cycles per second and call latencies.
//   ceiling  the same two transactions issued straight to PostgreSQL by the
//            same number of client threads (the store's own SQL, no gRPC),
//            so the report shows what the RPC layer costs side by side.
//   predict  p50/p99 of Fits.PredictLoss over gRPC on a fitted sweep.
//
// Usage (see run_coordinator_bench.sh, which starts PostgreSQL and the
// coordinator): ladder_coordinator_bench cycles --coordinator HOST:PORT --workers 500 --seconds 20
#include <grpcpp/grpcpp.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <iostream>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <thread>
#include <vector>

#include "common/grpc_runtime.h"
#include "common/protocol/trainer_events.h"
#include "ladder/v1/ladder.grpc.pb.h"
#include "server/fit/simulated_observations.h"
#include "server/store/lease_store.h"
#include "server/store/migrations.h"
#include "server/store/pg_pool.h"
#include "server/store/sweep_store.h"
#include "server/sweep_manager.h"
#include "server/sweep_planner.h"

namespace {

using Clock = std::chrono::steady_clock;
using namespace ladder;

// A SIMULATED result that matches the leased run's plan (the coordinator
// refuses tokens or FLOPs far from it).
std::string SimulatedResult(const v1::Lease& lease) {
  const auto config = nlohmann::json::parse(lease.config_json());
  ladder::protocol::ResultEvent r;  // every required field; the others zero
  r.final_eval_loss = 2.5;
  r.tokens = config["train"]["tokens"].get<int64_t>();
  r.flops = config["plan"]["flops"].get<double>();
  r.simulated = true;
  return ladder::protocol::WriteEventLine(r);
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return c;
}

// Creates sweeps holding `runs` queued runs in total (grid sweeps of up to 20k runs).
int64_t Fill(v1::Sweeps::Stub& sweeps, int runs) {
  int64_t first = 0;
  while (runs > 0) {
    const int n = std::min(runs, 20000);
    std::string tokens;
    for (int i = 0; i < n; ++i) tokens += (i ? "," : "") + std::to_string(4096 * (i + 1));
    v1::CreateSweepRequest req;
    req.set_spec_yaml(
        "name: load (SIMULATED)\nkind: grid\nfamilies: [lstm]\nmax_attempts: 1\n"
        "grid: {params: [3e4], tokens: [" +
        tokens + "]}\n");
    v1::CreateSweepResponse resp;
    grpc::Status st = sweeps.CreateSweep(Ctx().get(), req, &resp);
    if (!st.ok()) {
      std::cerr << "create sweep: " << st.error_message() << "\n";
      std::exit(1);
    }
    if (!first) first = resp.sweep().id();
    runs -= n;
  }
  return first;
}

struct CycleStats {
  std::atomic<int64_t> cycles{0};
  std::atomic<int> registered{0};
  std::atomic<int> dropped{0};  // workers that stopped on a failed call
  // Calls the coordinator turned away for load (RESOURCE_EXHAUSTED when its
  // RPC threads are all busy, UNAVAILABLE): retried after a short pause, as
  // ladder-worker does.
  std::atomic<int64_t> rejected{0};
  std::mutex mu;
  std::vector<double> lease_ms, complete_ms;
  std::string first_error;  // guarded by mu
};

int Cycles(const std::string& address, int workers, double seconds, int channels, int runs) {
  std::vector<std::shared_ptr<grpc::Channel>> chans;
  for (int i = 0; i < channels; ++i) {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", i);  // distinct connections
    chans.push_back(grpc::CreateCustomChannel(address, grpc::InsecureChannelCredentials(), args));
  }
  auto sweeps = v1::Sweeps::NewStub(chans[0]);
  std::cerr << "creating " << runs << " queued runs...\n";
  Fill(*sweeps, runs);
  CycleStats stats;
  std::atomic<bool> go{false}, stop{false};
  std::vector<std::thread> threads;
  for (int w = 0; w < workers; ++w) {
    threads.emplace_back([&, w] {
      auto agent = v1::Agent::NewStub(chans[w % channels]);
      v1::RegisterWorkerRequest reg;
      reg.set_name("sim-load-" + std::to_string(w));
      reg.set_hostname("bench");
      reg.set_trainer("none (SIMULATED load)");
      auto* d = reg.add_devices();
      d->set_kind("cpu");
      d->set_memory_bytes(int64_t{1} << 36);
      v1::RegisterWorkerResponse r;
      ++stats.registered;
      std::mt19937 rng(w);
      // Retries a call turned away for load; returns any other outcome.
      const auto call_with_retry = [&](const auto& call) {
        int delay_ms = 10;  // doubling to 640 ms with jitter, like the worker's backoff
        for (;;) {
          grpc::Status st = call();
          if (st.error_code() != grpc::StatusCode::RESOURCE_EXHAUSTED &&
              st.error_code() != grpc::StatusCode::UNAVAILABLE) {
            return st;
          }
          ++stats.rejected;
          if (stop) return st;
          std::this_thread::sleep_for(std::chrono::milliseconds(delay_ms / 2 + rng() % delay_ms));
          delay_ms = std::min(640, delay_ms * 2);
        }
      };
      const auto drop = [&](const grpc::Status& st, const char* call) {
        if (stop) return;  // cut off by the end of the measurement, not an error
        ++stats.dropped;
        std::lock_guard<std::mutex> lock(stats.mu);
        if (stats.first_error.empty())
          stats.first_error = std::string(call) + ": " + st.error_message();
      };
      if (grpc::Status st =
              call_with_retry([&] { return agent->RegisterWorker(Ctx().get(), reg, &r); });
          !st.ok()) {
        --stats.registered;
        drop(st, "RegisterWorker");
        return;
      }
      std::vector<double> lease_ms, complete_ms;
      while (!go) std::this_thread::yield();
      while (!stop) {
        const auto t0 = Clock::now();
        v1::LeaseRunRequest lr;
        lr.set_worker_id(r.worker_id());
        v1::LeaseRunResponse lease;
        if (grpc::Status st =
                call_with_retry([&] { return agent->LeaseRun(Ctx().get(), lr, &lease); });
            !st.ok()) {
          drop(st, "LeaseRun");
          break;
        }
        if (!lease.granted()) break;
        const auto t1 = Clock::now();
        v1::CompleteAttemptRequest c;
        c.set_attempt_id(lease.lease().attempt_id());
        c.set_lease_token(lease.lease().lease_token());
        c.set_result_json(SimulatedResult(lease.lease()));
        v1::CompleteAttemptResponse cr;
        if (grpc::Status st =
                call_with_retry([&] { return agent->CompleteAttempt(Ctx().get(), c, &cr); });
            !st.ok()) {
          drop(st, "CompleteAttempt");
          break;
        }
        const auto t2 = Clock::now();
        lease_ms.push_back(std::chrono::duration<double, std::milli>(t1 - t0).count());
        complete_ms.push_back(std::chrono::duration<double, std::milli>(t2 - t1).count());
        ++stats.cycles;
      }
      std::lock_guard<std::mutex> lock(stats.mu);
      stats.lease_ms.insert(stats.lease_ms.end(), lease_ms.begin(), lease_ms.end());
      stats.complete_ms.insert(stats.complete_ms.end(), complete_ms.begin(), complete_ms.end());
    });
  }
  std::this_thread::sleep_for(std::chrono::seconds(2));  // registrations
  const auto start = Clock::now();
  go = true;
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& t : threads) t.join();
  const double rate = stats.cycles / elapsed;
  std::cout << "cycles: workers=" << workers << " seconds=" << elapsed
            << " cycles=" << stats.cycles.load() << " cycles_per_second=" << rate
            << " lease_ms_p50=" << Percentile(stats.lease_ms, 0.5)
            << " lease_ms_p99=" << Percentile(stats.lease_ms, 0.99)
            << " complete_ms_p50=" << Percentile(stats.complete_ms, 0.5)
            << " complete_ms_p99=" << Percentile(stats.complete_ms, 0.99)
            << " workers_registered=" << stats.registered.load()
            << " workers_dropped_on_error=" << stats.dropped.load()
            << " calls_rejected_for_load=" << stats.rejected.load() << "\n";
  if (!stats.first_error.empty()) std::cout << "first error: " << stats.first_error << "\n";
  return stats.cycles > 0 ? 0 : 1;
}

// The same lease and completion transactions straight against PostgreSQL.
int Ceiling(const std::string& url, int clients, double seconds, int runs) {
  store::PgPool::Options o;
  o.url = url;
  o.size = clients;
  auto pool = store::PgPool::Connect(o);
  if (!pool.ok()) {
    std::cerr << pool.status() << "\n";
    return 1;
  }
  if (auto st = store::ApplyMigrations(**pool); !st.ok()) {
    std::cerr << st << "\n";
    return 1;
  }
  // The same queued runs as the gRPC measurement.
  store::SweepStore sweeps(pool->get());
  for (int made = 0; made < runs; made += 20000) {
    std::string tokens;
    for (int i = 0; i < std::min(20000, runs - made); ++i)
      tokens += (i ? "," : "") + std::to_string(4096 * (i + 1));
    const std::string yaml =
        "name: load (SIMULATED)\nkind: grid\nfamilies: [lstm]\nmax_attempts: 1\n"
        "grid: {params: [3e4], tokens: [" +
        tokens + "]}\n";
    auto spec = ParseSweepSpec(yaml);
    auto planned = PlanSweep(*spec);
    if (!sweeps.CreateSweep(SweepRow(yaml, *spec), RunRows(*planned)).ok()) return 1;
  }
  store::LeaseStore leases(pool->get(), store::LeaseSettings{});
  std::atomic<int64_t> cycles{0};
  std::atomic<bool> stop{false};
  std::vector<int64_t> ids;
  for (int w = 0; w < clients; ++w) {
    v1::RegisterWorkerRequest reg;
    reg.set_name("sim-ceiling-" + std::to_string(w));
    reg.set_trainer("none (SIMULATED load)");
    auto* d = reg.add_devices();
    d->set_kind("cpu");
    d->set_memory_bytes(int64_t{1} << 36);
    ids.push_back(*leases.RegisterWorker(reg));
  }
  std::vector<std::thread> threads;
  const auto start = Clock::now();
  for (int w = 0; w < clients; ++w) {
    threads.emplace_back([&, w] {
      while (!stop) {
        auto lease = leases.LeaseRun(ids[w], 0);
        if (!lease.ok() || !lease->granted()) return;
        v1::CompleteAttemptRequest c;
        c.set_attempt_id(lease->lease().attempt_id());
        c.set_lease_token(lease->lease().lease_token());
        c.set_result_json(SimulatedResult(lease->lease()));
        if (!leases.CompleteAttempt(c).ok()) return;
        ++cycles;
      }
    });
  }
  std::this_thread::sleep_for(std::chrono::duration<double>(seconds));
  stop = true;
  const double elapsed = std::chrono::duration<double>(Clock::now() - start).count();
  for (auto& t : threads) t.join();
  std::cout << "ceiling: clients=" << clients << " seconds=" << elapsed
            << " cycles=" << cycles.load() << " cycles_per_second=" << cycles / elapsed << "\n";
  return 0;
}

int Predict(const std::string& address, int queries) {
  auto channel = grpc::CreateChannel(address, grpc::InsecureChannelCredentials());
  auto sweeps = v1::Sweeps::NewStub(channel);
  auto fits = v1::Fits::NewStub(channel);
  fit::ChinchillaLaw law;
  law.E = 1.69;
  law.A = 406.4;
  law.alpha = 0.34;
  law.B = 410.7;
  law.beta = 0.28;
  v1::ImportResultsRequest imp;
  imp.set_name("prediction latency (SIMULATED results)");
  for (const auto& o : fit::SimulateGrid(law, fit::LogSpaced(1e7, 1e9, 8),
                                         fit::LogSpaced(2e8, 2e10, 8), 0.01, 1, "transformer")) {
    auto* r = imp.add_results();
    r->set_family(o.family);
    r->set_params(o.params);
    r->set_tokens(o.tokens);
    r->set_final_loss(o.loss);
  }
  v1::Sweep sweep;
  if (!sweeps->ImportResults(Ctx().get(), imp, &sweep).ok()) return 1;
  v1::PredictLossRequest p;
  p.set_sweep_id(sweep.id());
  p.set_family("transformer");
  p.set_params(7e10);
  p.set_tokens(1.4e12);
  v1::PredictLossResponse pr;
  for (int i = 0; i < 600 && !fits->PredictLoss(Ctx().get(), p, &pr).ok(); ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(100));
  }
  std::vector<double> ms;
  std::mt19937 rng(1);
  std::uniform_real_distribution<double> u(0, 1);
  for (int i = 0; i < queries; ++i) {
    if (i % 2) {
      p.set_params(1e9 * std::pow(100, u(rng)));
      p.set_tokens(2e10 * std::pow(100, u(rng)));
      p.set_compute(0);
    } else {
      p.set_params(0);
      p.set_tokens(0);
      p.set_compute(1e20 * std::pow(1e4, u(rng)));
    }
    const auto t0 = Clock::now();
    grpc::Status st = fits->PredictLoss(Ctx().get(), p, &pr);
    ms.push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
    if (!st.ok()) {
      std::cerr << "predict: " << st.error_message() << "\n";
      return 1;
    }
  }
  std::cout << "predict: queries=" << queries << " p50_ms=" << Percentile(ms, 0.5)
            << " p99_ms=" << Percentile(ms, 0.99) << " max_ms=" << Percentile(ms, 1.0) << "\n";
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  ladder::ConfigureGrpcRuntime();
  CLI::App app{"ladder_coordinator_bench: SIMULATED load on a real coordinator and PostgreSQL"};
  app.require_subcommand(1);
  std::string address, url;
  int workers = 500, channels = 16, runs = 60000, clients = 16, queries = 5000;
  double seconds = 20;
  auto* cycles =
      app.add_subcommand("cycles", "lease+complete cycles per second from simulated workers");
  cycles->add_option("--coordinator", address)->required();
  cycles->add_option("--workers", workers)->capture_default_str();
  cycles->add_option("--channels", channels, "TCP connections shared by the workers")
      ->capture_default_str();
  cycles->add_option("--runs", runs, "queued runs to create first")->capture_default_str();
  cycles->add_option("--seconds", seconds)->capture_default_str();
  auto* ceiling =
      app.add_subcommand("ceiling", "the same transactions straight to PostgreSQL (no RPC)");
  ceiling->add_option("--database-url", url)->required();
  ceiling->add_option("--clients", clients)->capture_default_str();
  ceiling->add_option("--seconds", seconds)->capture_default_str();
  ceiling->add_option("--runs", runs, "queued runs to create first")->capture_default_str();
  auto* predict = app.add_subcommand("predict", "PredictLoss latency over gRPC");
  predict->add_option("--coordinator", address)->required();
  predict->add_option("--queries", queries)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (cycles->parsed()) return Cycles(address, workers, seconds, channels, runs);
  if (ceiling->parsed()) return Ceiling(url, clients, seconds, runs);
  return Predict(address, queries);
}
