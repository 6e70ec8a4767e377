// Coordinator load benchmark. SIMULATED workers (threads speaking the Agent
// API; no trainer runs) load a real ladder-coordinator and PostgreSQL:
//
//   fill     creates queued runs (grid sweeps of --sweep-size runs) through
//            Sweeps.CreateSweep, before the load starts.
//   cycles   N SIMULATED workers, each with --devices-per-worker devices,
//            loop LeaseRun -> (optionally "train" --train-seconds, reporting
//            progress at 1 Hz with --points-per-report points and
//            heartbeating) -> CompleteAttempt. On errors they act like
//            ladder-worker: UNAVAILABLE, RESOURCE_EXHAUSTED and
//            DEADLINE_EXCEEDED are retried with backoff, NOT_FOUND for the
//            worker re-registers, a lease the coordinator calls gone is
//            dropped; leases live in the database, so they survive a switch
//            to another coordinator of the same database. Several processes
//            run side by side (run_coordinator_bench.sh starts them); each
//            writes --samples-out for `merge`.
//   merge    sums the counters and pools the latency samples of several
//            `cycles` processes into one key=value line.
//   ceiling  the lease and completion transactions straight against
//            PostgreSQL (the store's own SQL, no gRPC), so the report shows
//            what the RPC layer costs side by side.
//   predict  p50/p99 of Fits.PredictLoss over gRPC on a fitted sweep.
//
// Usage: see run_coordinator_bench.sh and run_fault_bench.sh, which start
// PostgreSQL and the coordinators.
#include <grpcpp/grpcpp.h>
#include <sys/resource.h>

#include <CLI/CLI.hpp>
#include <algorithm>
#include <atomic>
#include <chrono>
#include <cmath>
#include <fstream>
#include <iostream>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <random>
#include <sstream>
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
using std::chrono::milliseconds;

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

std::string SimulatedStarted() {
  ladder::protocol::StartedEvent s;
  s.trainer = "none (SIMULATED load)";
  s.version = "bench";
  s.simulated = true;
  s.device = "cpu";
  return ladder::protocol::WriteEventLine(s);
}

double Percentile(std::vector<double> v, double q) {
  if (v.empty()) return NAN;
  std::sort(v.begin(), v.end());
  return v[std::min(v.size() - 1, static_cast<size_t>(q * v.size()))];
}

std::unique_ptr<grpc::ClientContext> Ctx(int seconds = 30) {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(seconds));
  return c;
}

std::string ReadFile(const std::string& path) {
  std::ifstream in(path);
  if (!in) {
    std::cerr << "cannot read " << path << "\n";
    std::exit(2);
  }
  std::stringstream ss;
  ss << in.rdbuf();
  return ss.str();
}

// How the SIMULATED clients reach the coordinator(s). `target` is any gRPC
// target, e.g. ipv4:127.0.0.1:P1,127.0.0.1:P2 for two coordinators
// (pick_first: the first that answers, the next when it dies).
struct Connection {
  std::string target;
  std::string tls_ca, tls_cert, tls_key;  // mutual TLS when tls_ca is set
  std::string token_file;                 // bearer token for Sweeps calls (TLS)

  std::shared_ptr<grpc::Channel> Channel(int id) const {
    grpc::ChannelArguments args;
    args.SetInt("grpc.channel_id", id);  // distinct connections
    args.SetInt(GRPC_ARG_MAX_RECONNECT_BACKOFF_MS, 1000);
    args.SetInt(GRPC_ARG_INITIAL_RECONNECT_BACKOFF_MS, 200);
    // Not GRPC_ARG_MIN_RECONNECT_BACKOFF_MS: gRPC also takes it as the
    // minimum connect timeout (default 20 s), and a TLS handshake under
    // load can take longer than a short one.
    std::shared_ptr<grpc::ChannelCredentials> creds = grpc::InsecureChannelCredentials();
    if (!tls_ca.empty()) {
      grpc::SslCredentialsOptions ssl;
      ssl.pem_root_certs = ReadFile(tls_ca);
      if (!tls_cert.empty()) {
        ssl.pem_cert_chain = ReadFile(tls_cert);
        ssl.pem_private_key = ReadFile(tls_key);
      }
      creds = grpc::SslCredentials(ssl);
    }
    return grpc::CreateCustomChannel(target, creds, args);
  }
  void Authorize(grpc::ClientContext* ctx) const {
    if (token_file.empty()) return;
    std::string t = ReadFile(token_file);
    while (!t.empty() && (t.back() == '\n' || t.back() == ' ')) t.pop_back();
    ctx->AddMetadata("authorization", "Bearer " + t);
  }
};

// Creates `runs` queued runs in grid sweeps of up to `sweep_size` runs.
int Fill(const Connection& conn, int runs, int sweep_size, int max_attempts) {
  auto sweeps = v1::Sweeps::NewStub(conn.Channel(0));
  const auto t0 = Clock::now();
  int64_t first = 0;
  int made = 0;
  while (made < runs) {
    const int n = std::min(runs - made, sweep_size);
    std::string tokens;
    for (int i = 0; i < n; ++i) tokens += (i ? "," : "") + std::to_string(4096 * (i + 1));
    v1::CreateSweepRequest req;
    req.set_spec_yaml("name: load (SIMULATED)\nkind: grid\nfamilies: [lstm]\nmax_attempts: " +
                      std::to_string(max_attempts) + "\ngrid: {params: [3e4], tokens: [" + tokens +
                      "]}\n");
    v1::CreateSweepResponse resp;
    auto ctx = Ctx(600);
    conn.Authorize(ctx.get());
    grpc::Status st = sweeps->CreateSweep(ctx.get(), req, &resp);
    if (!st.ok()) {
      std::cerr << "create sweep: " << st.error_message() << "\n";
      return 1;
    }
    if (!first) first = resp.sweep().id();
    made += n;
  }
  std::cout << "fill: runs=" << made << " first_sweep_id=" << first
            << " seconds=" << std::chrono::duration<double>(Clock::now() - t0).count() << "\n";
  return 0;
}

struct LoadConfig {
  Connection conn;
  std::string name_prefix = "sim-load-";
  int workers = 500;
  int devices = 1;  // per worker
  int channels = 16;
  double seconds = 20;
  int64_t start_at_unix_ms = 0;  // 0: two seconds after the workers start registering
  double train_seconds = 0;      // 0: complete right after the lease
  int points_per_report = 10;
  bool finish_leased = false;  // after the window: stop leasing, finish the runs held
  std::string samples_out, acked_out;
};

// Everything the SIMULATED workers of one process count.
struct LoadStats {
  // Counters, written to the samples file by name.
  std::map<std::string, std::atomic<int64_t>> n;
  std::mutex mu;
  std::map<std::string, std::vector<double>> ms;   // latencies in the window, by RPC
  std::vector<std::pair<int64_t, int64_t>> acked;  // (attempt, run) completions acknowledged
  std::string first_error;
  std::string first_unavailable;  // what the first UNAVAILABLE answer said

  LoadStats() {
    for (const char* k :
         {"cycles", "completes_acknowledged", "leases_granted", "lease_calls_empty",
          "calls_rejected_for_load", "rejected_resource_exhausted", "rejected_unavailable",
          "calls_deadline_exceeded", "calls_failed_other", "reregistered", "leases_revoked",
          "completes_refused_stale", "lease_device_busy", "progress_points_sent",
          "progress_points_sent_total", "workers_registered", "multi_device_lease_calls",
          "multi_device_lease_fallbacks", "completes_after_window"}) {
      n[k] = 0;
    }
  }
  void Add(const char* k, int64_t v = 1) { n.at(k) += v; }
  void Error(const std::string& what) {
    std::lock_guard<std::mutex> lock(mu);
    if (first_error.empty()) first_error = what;
  }
};

class SimulatedWorker {
 public:
  SimulatedWorker(const LoadConfig& cfg, LoadStats* stats, std::shared_ptr<grpc::Channel> channel,
                  int index, Clock::time_point window_start, Clock::time_point window_end,
                  const std::atomic<bool>* stop_leasing, const std::atomic<bool>* stop_hard)
      : cfg_(cfg),
        stats_(*stats),
        agent_(v1::Agent::NewStub(std::move(channel))),
        index_(index),
        window_start_(window_start),
        window_end_(window_end),
        stop_leasing_(*stop_leasing),
        stop_hard_(*stop_hard),
        rng_(index + 1) {}

  void Run() {
    if (!Register()) return;
    stats_.Add("workers_registered");
    std::this_thread::sleep_until(window_start_);
    // Ticks at 1 Hz, each worker at its own phase; at 10 Hz when runs are
    // held under a second (progress stays at 1 Hz per run, from its lease).
    const auto tick = cfg_.train_seconds < 1 ? Clock::duration(milliseconds(100))
                                             : Clock::duration(std::chrono::seconds(1));
    auto next_tick = Clock::now() + milliseconds(rng_() % 1000);
    auto next_heartbeat = Clock::now() + heartbeat_interval_;
    while (!stop_hard_) {
      const bool leasing = !stop_leasing_;
      if (!leasing && active_.empty()) break;
      if (leasing && static_cast<int>(active_.size()) < cfg_.devices) {
        const bool granted = LeaseFreeDevices();
        if (!granted && active_.empty() && cfg_.train_seconds == 0) {
          std::this_thread::sleep_for(milliseconds(100 + rng_() % 200));
        }
      }
      if (cfg_.train_seconds == 0) {
        while (!active_.empty()) Complete(active_.begin());
        continue;
      }
      std::this_thread::sleep_until(next_tick);
      next_tick += tick;
      if (stop_hard_) break;
      for (auto it = active_.begin(); it != active_.end();) {
        if (it->second.next_progress > Clock::now()) {
          ++it;
          continue;
        }
        it->second.next_progress += std::chrono::seconds(1);
        it = Progress(it) ? std::next(it) : active_.erase(it);
      }
      if (Clock::now() >= next_heartbeat) {
        Heartbeat();
        next_heartbeat = Clock::now() + heartbeat_interval_;
      }
      const auto now = Clock::now();
      for (auto it = active_.begin(); it != active_.end();) {
        it = it->second.ends <= now ? Complete(it) : std::next(it);
      }
    }
    std::lock_guard<std::mutex> lock(stats_.mu);
    for (auto& [k, v] : ms_) stats_.ms[k].insert(stats_.ms[k].end(), v.begin(), v.end());
    stats_.acked.insert(stats_.acked.end(), acked_.begin(), acked_.end());
  }

 private:
  struct Active {
    v1::Lease lease;
    int64_t step = 0;
    bool started = false;
    Clock::time_point ends;
    Clock::time_point next_progress;  // 1 Hz from the lease
  };
  using ActiveMap = std::map<int, Active>;

  bool InWindow(Clock::time_point t) const { return t >= window_start_ && t < window_end_; }

  // Calls until the answer is not a transient refusal (the worker's backoff:
  // 10 ms doubling to 1 s, with jitter), or the load is cut off. Records
  // the latency of the whole exchange, retries included, under `rpc`.
  template <typename Fn>
  grpc::Status Call(const char* rpc, const Fn& call) {
    const auto t0 = Clock::now();
    int delay_ms = 10;
    for (;;) {
      grpc::Status st = call();
      const auto code = st.error_code();
      if (code == grpc::StatusCode::RESOURCE_EXHAUSTED || code == grpc::StatusCode::UNAVAILABLE) {
        stats_.Add("calls_rejected_for_load");
        stats_.Add(code == grpc::StatusCode::UNAVAILABLE ? "rejected_unavailable"
                                                         : "rejected_resource_exhausted");
        if (code == grpc::StatusCode::UNAVAILABLE) {
          std::lock_guard<std::mutex> lock(stats_.mu);
          if (stats_.first_unavailable.empty())
            stats_.first_unavailable = std::string(rpc) + ": " + st.error_message();
        }
      } else if (code == grpc::StatusCode::DEADLINE_EXCEEDED) {
        stats_.Add("calls_deadline_exceeded");
      } else {
        if (st.ok() && InWindow(t0)) {
          ms_[rpc].push_back(std::chrono::duration<double, std::milli>(Clock::now() - t0).count());
        }
        return st;
      }
      if (stop_hard_) return st;
      std::this_thread::sleep_for(milliseconds(delay_ms / 2 + rng_() % delay_ms));
      delay_ms = std::min(1000, delay_ms * 2);
    }
  }

  void Other(const char* rpc, const grpc::Status& st) {
    if (stop_hard_) return;  // cut off by the end of the run, not an error
    stats_.Add("calls_failed_other");
    stats_.Error(std::string(rpc) + ": " + std::to_string(st.error_code()) + " " +
                 st.error_message());
    std::this_thread::sleep_for(std::chrono::seconds(1));
  }

  bool Register() {
    v1::RegisterWorkerRequest reg;
    reg.set_name(cfg_.name_prefix + std::to_string(index_));
    reg.set_hostname("bench (SIMULATED)");
    reg.set_trainer("none (SIMULATED load)");
    for (int i = 0; i < cfg_.devices; ++i) {
      auto* d = reg.add_devices();
      d->set_index(i);
      d->set_kind("cpu");
      d->set_model("cpu (SIMULATED)");
      d->set_memory_bytes(int64_t{1} << 36);
      d->set_threads(1);
    }
    while (!stop_hard_) {
      v1::RegisterWorkerResponse r;
      grpc::Status st =
          Call("register", [&] { return agent_->RegisterWorker(Ctx().get(), reg, &r); });
      if (st.ok()) {
        worker_id_ = r.worker_id();
        if (r.heartbeat_interval_ms() > 0)
          heartbeat_interval_ = milliseconds(std::max(20, r.heartbeat_interval_ms()));
        return true;
      }
      Other("RegisterWorker", st);
    }
    return false;
  }

  // One LeaseRun for every free device (device_indexes), or one call per
  // device when the coordinator answers only the single-device form.
  bool LeaseFreeDevices() {
    std::vector<int> free;
    for (int i = 0; i < cfg_.devices; ++i)
      if (!active_.count(i)) free.push_back(i);
    bool any = false;
    const bool multi = cfg_.devices > 1 && !multi_unsupported_;
    for (size_t k = 0; k < free.size() && !stop_leasing_; ++k) {
      v1::LeaseRunRequest lr;
      lr.set_worker_id(worker_id_);
      if (multi) {
        for (int d : free) lr.add_device_indexes(d);
        stats_.Add("multi_device_lease_calls");
      } else {
        lr.set_device_index(free[k]);
      }
      v1::LeaseRunResponse resp;
      grpc::Status st = Call("lease", [&] { return agent_->LeaseRun(Ctx().get(), lr, &resp); });
      if (st.error_code() == grpc::StatusCode::NOT_FOUND &&
          st.error_message().rfind("worker_id", 0) == 0) {
        stats_.Add("reregistered");
        Register();
        return any;
      }
      if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION) {
        // The device holds a lease this worker never saw (an answer lost to
        // a dead coordinator): it expires, then the device is free again.
        stats_.Add("lease_device_busy");
        std::this_thread::sleep_for(std::chrono::seconds(1));
        return any;
      }
      if (!st.ok()) {
        Other("LeaseRun", st);
        return any;
      }
      std::vector<v1::Lease> got(resp.leases().begin(), resp.leases().end());
      if (got.empty() && resp.granted()) {
        got.push_back(resp.lease());
        if (multi) {
          // The coordinator read device_index only: lease device by device.
          multi_unsupported_ = true;
          stats_.Add("multi_device_lease_fallbacks");
          got.back().set_device_index(0);
        } else {
          got.back().set_device_index(free[k]);
        }
      }
      if (got.empty()) {
        stats_.Add("lease_calls_empty");
        return any;
      }
      for (auto& l : got) {
        Active a;
        a.next_progress = Clock::now();
        a.ends = a.next_progress + std::chrono::duration_cast<Clock::duration>(
                                       std::chrono::duration<double>(cfg_.train_seconds));
        const int device = l.device_index();
        a.lease = std::move(l);
        active_[device] = std::move(a);
        stats_.Add("leases_granted");
        any = true;
      }
      if (multi) break;
      if (multi_unsupported_ && cfg_.devices > 1) return any;  // the rest next time
    }
    return any;
  }

  // False: the lease is gone.
  bool Progress(ActiveMap::iterator it) {
    Active& a = it->second;
    v1::ReportProgressRequest req;
    req.set_attempt_id(a.lease.attempt_id());
    req.set_lease_token(a.lease.lease_token());
    if (!a.started) req.set_started_json(SimulatedStarted());
    for (int i = 0; i < cfg_.points_per_report; ++i) {
      const int64_t step = a.step + i;
      auto* p = req.add_points();
      p->set_step(step);
      p->set_tokens(4096 * (step + 1));
      p->set_flops(6.0 * 3e4 * 4096 * (step + 1));
      p->set_train_loss(4.0 / std::sqrt(1.0 + step));
      p->set_lr(1e-3);
      p->set_tokens_per_second(4096.0 * cfg_.points_per_report);
    }
    v1::ReportProgressResponse resp;
    // The points are kept and sent again until stored (the worker's buffer).
    grpc::Status st =
        Call("progress", [&] { return agent_->ReportProgress(Ctx().get(), req, &resp); });
    if (st.error_code() == grpc::StatusCode::NOT_FOUND ||
        st.error_code() == grpc::StatusCode::PERMISSION_DENIED ||
        st.error_code() == grpc::StatusCode::FAILED_PRECONDITION || (st.ok() && resp.revoked())) {
      stats_.Add("leases_revoked");
      return false;
    }
    if (!st.ok()) {
      Other("ReportProgress", st);
      return true;
    }
    a.started = true;
    a.step += cfg_.points_per_report;
    stats_.Add("progress_points_sent_total", cfg_.points_per_report);
    if (InWindow(Clock::now())) stats_.Add("progress_points_sent", cfg_.points_per_report);
    return true;
  }

  void Heartbeat() {
    v1::HeartbeatRequest req;
    req.set_worker_id(worker_id_);
    for (const auto& [device, a] : active_) {
      auto* l = req.add_attempts();
      l->set_attempt_id(a.lease.attempt_id());
      l->set_lease_token(a.lease.lease_token());
    }
    v1::HeartbeatResponse resp;
    grpc::Status st = Call("heartbeat", [&] { return agent_->Heartbeat(Ctx().get(), req, &resp); });
    if (st.error_code() == grpc::StatusCode::NOT_FOUND) {
      stats_.Add("reregistered");
      Register();  // the same name keeps the id; the leases stay ours
      return;
    }
    if (!st.ok()) {
      Other("Heartbeat", st);
      return;
    }
    for (int64_t id : resp.revoked_attempt_ids()) {
      for (auto it = active_.begin(); it != active_.end(); ++it) {
        if (it->second.lease.attempt_id() == id) {
          stats_.Add("leases_revoked");
          active_.erase(it);
          break;
        }
      }
    }
  }

  ActiveMap::iterator Complete(ActiveMap::iterator it) {
    const v1::Lease& lease = it->second.lease;
    v1::CompleteAttemptRequest c;
    c.set_attempt_id(lease.attempt_id());
    c.set_lease_token(lease.lease_token());
    c.set_result_json(SimulatedResult(lease));
    v1::CompleteAttemptResponse cr;
    grpc::Status st =
        Call("complete", [&] { return agent_->CompleteAttempt(Ctx().get(), c, &cr); });
    const auto now = Clock::now();
    if (st.ok()) {
      stats_.Add("completes_acknowledged");
      acked_.emplace_back(lease.attempt_id(), lease.run_id());
      if (InWindow(now)) {
        stats_.Add("cycles");
      } else if (now >= window_end_) {
        stats_.Add("completes_after_window");
      }
    } else if (st.error_code() == grpc::StatusCode::FAILED_PRECONDITION ||
               st.error_code() == grpc::StatusCode::NOT_FOUND ||
               st.error_code() == grpc::StatusCode::PERMISSION_DENIED) {
      stats_.Add("completes_refused_stale");
    } else {
      Other("CompleteAttempt", st);
    }
    return active_.erase(it);
  }

  const LoadConfig& cfg_;
  LoadStats& stats_;
  std::unique_ptr<v1::Agent::Stub> agent_;
  const int index_;
  const Clock::time_point window_start_, window_end_;
  const std::atomic<bool>& stop_leasing_;
  const std::atomic<bool>& stop_hard_;
  std::mt19937 rng_;
  int64_t worker_id_ = 0;
  milliseconds heartbeat_interval_{5000};
  bool multi_unsupported_ = false;
  ActiveMap active_;
  std::map<std::string, std::vector<double>> ms_;
  std::vector<std::pair<int64_t, int64_t>> acked_;
};

const char* const kRpcs[] = {"lease", "complete", "heartbeat", "progress"};

// The key=value line of a load, from summed counters and pooled samples.
void PrintLoad(std::ostream& out, int workers, double seconds,
               const std::map<std::string, int64_t>& n,
               const std::map<std::string, std::vector<double>>& ms) {
  const auto get = [&](const std::string& k) {
    auto it = n.find(k);
    return it == n.end() ? int64_t{0} : it->second;
  };
  out << "cycles: workers=" << workers << " seconds=" << seconds << " cycles=" << get("cycles")
      << " cycles_per_second=" << get("cycles") / seconds;
  for (const char* rpc : kRpcs) {
    auto it = ms.find(rpc);
    static const std::vector<double> none;
    const auto& v = it == ms.end() ? none : it->second;
    out << " " << rpc << "_calls=" << v.size() << " " << rpc << "_ms_p50=" << Percentile(v, 0.5)
        << " " << rpc << "_ms_p99=" << Percentile(v, 0.99);
  }
  out << " progress_points_sent_per_second=" << get("progress_points_sent") / seconds;
  for (const auto& [k, v] : n) {
    if (k != "cycles") out << " " << k << "=" << v;
  }
  out << "\n";
}

int Load(const LoadConfig& cfg) {
  std::vector<std::shared_ptr<grpc::Channel>> chans;
  for (int i = 0; i < cfg.channels; ++i) chans.push_back(cfg.conn.Channel(i));
  LoadStats stats;
  std::atomic<bool> stop_leasing{false}, stop_hard{false};
  Clock::time_point window_start = Clock::now() + std::chrono::seconds(2);
  if (cfg.start_at_unix_ms > 0) {
    const int64_t now_ms = std::chrono::duration_cast<milliseconds>(
                               std::chrono::system_clock::now().time_since_epoch())
                               .count();
    window_start = Clock::now() + milliseconds(cfg.start_at_unix_ms - now_ms);
  }
  const Clock::time_point window_end =
      window_start +
      std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(cfg.seconds));
  std::vector<std::unique_ptr<SimulatedWorker>> sims;
  std::vector<std::thread> threads;
  for (int w = 0; w < cfg.workers; ++w) {
    sims.push_back(std::make_unique<SimulatedWorker>(cfg, &stats, chans[w % cfg.channels], w,
                                                     window_start, window_end, &stop_leasing,
                                                     &stop_hard));
    threads.emplace_back([s = sims.back().get()] { s->Run(); });
  }
  std::this_thread::sleep_until(window_start);
  const int registered_at_start = static_cast<int>(stats.n.at("workers_registered").load());
  std::this_thread::sleep_until(window_end);
  stop_leasing = true;
  if (!cfg.finish_leased) {
    stop_hard = true;
  } else {
    // Runs held at the end are trained out and completed; a bound on it.
    std::thread([&] {
      std::this_thread::sleep_for(std::chrono::duration<double>(cfg.train_seconds + 60));
      stop_hard = true;
    }).detach();
  }
  for (auto& t : threads) t.join();
  stop_hard = true;
  std::map<std::string, int64_t> n;
  for (auto& [k, v] : stats.n) n[k] = v.load();
  n["workers_registered_at_start"] = registered_at_start;
  // The load generator's own CPU (all of this process's life), in ms: on a
  // small machine it competes with the coordinator.
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  n["load_generator_cpu_ms"] = (ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) * 1000 +
                               (ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1000;
  PrintLoad(std::cout, cfg.workers, cfg.seconds, n, stats.ms);
  if (!stats.first_error.empty()) std::cout << "first error: " << stats.first_error << "\n";
  if (!stats.first_unavailable.empty())
    std::cout << "first UNAVAILABLE: " << stats.first_unavailable << "\n";
  if (!cfg.samples_out.empty()) {
    std::ofstream out(cfg.samples_out);
    out << "workers " << cfg.workers << "\nseconds " << cfg.seconds << "\n";
    for (const auto& [k, v] : n) out << "counter " << k << " " << v << "\n";
    for (const auto& [k, v] : stats.ms) {
      out << "samples " << k;
      for (double x : v) out << " " << x;
      out << "\n";
    }
    if (!out) {
      std::cerr << "cannot write " << cfg.samples_out << "\n";
      return 1;
    }
  }
  if (!cfg.acked_out.empty()) {
    std::ofstream out(cfg.acked_out);
    for (const auto& [attempt, run] : stats.acked) out << attempt << "\t" << run << "\n";
  }
  return 0;  // the figures say how it went (workers_registered=)
}

int Merge(const std::vector<std::string>& files) {
  std::map<std::string, int64_t> n;
  std::map<std::string, std::vector<double>> ms;
  int workers = 0;
  double seconds = 0;
  for (const auto& f : files) {
    std::istringstream in(ReadFile(f));
    std::string line;
    bool any = false;
    while (std::getline(in, line)) {
      std::istringstream l(line);
      std::string kind, key;
      l >> kind;
      if (kind == "workers") {
        int w = 0;
        l >> w;
        workers += w;
        any = true;
      } else if (kind == "seconds") {
        double s = 0;
        l >> s;
        seconds = std::max(seconds, s);
      } else if (kind == "counter") {
        int64_t v = 0;
        l >> key >> v;
        n[key] += v;
      } else if (kind == "samples") {
        l >> key;
        for (double x; l >> x;) ms[key].push_back(x);
      }
    }
    if (!any) {
      std::cerr << "merge: " << f << " is not a samples file of `cycles`\n";
      return 1;
    }
  }
  if (seconds <= 0) return 1;
  PrintLoad(std::cout, workers, seconds, n, ms);
  return 0;
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
  std::string url;
  LoadConfig load;
  Connection& conn = load.conn;
  int runs = 60000, sweep_size = 20000, max_attempts = 1, clients = 16, queries = 5000;
  double seconds = 20;
  std::vector<std::string> files;
  const auto add_connection = [&](CLI::App* c) {
    c->add_option("--coordinator", conn.target, "gRPC target (ipv4:H:P1,H:P2 for two)")->required();
    c->add_option("--tls-ca", conn.tls_ca, "CA of the coordinator's certificate (mutual TLS)");
    c->add_option("--tls-cert", conn.tls_cert, "client certificate (a worker certificate)");
    c->add_option("--tls-key", conn.tls_key, "its key");
  };
  auto* fill = app.add_subcommand("fill", "create queued runs for the SIMULATED load");
  add_connection(fill);
  fill->add_option("--token-file", conn.token_file, "bearer token (submit scope) on TLS");
  fill->add_option("--runs", runs)->capture_default_str();
  fill->add_option("--sweep-size", sweep_size, "runs per sweep (at most 100000)")
      ->capture_default_str();
  fill->add_option("--max-attempts", max_attempts)->capture_default_str();
  auto* cycles = app.add_subcommand(
      "cycles", "SIMULATED workers: lease -> (train, progress, heartbeat) -> complete");
  add_connection(cycles);
  cycles->add_option("--workers", load.workers)->capture_default_str();
  cycles->add_option("--name-prefix", load.name_prefix, "worker names: PREFIX0, PREFIX1, ...")
      ->capture_default_str();
  cycles->add_option("--devices-per-worker", load.devices)->capture_default_str();
  cycles->add_option("--channels", load.channels, "TCP connections shared by the workers")
      ->capture_default_str();
  cycles->add_option("--seconds", load.seconds, "the measurement window")->capture_default_str();
  cycles->add_option("--start-at-unix-ms", load.start_at_unix_ms,
                     "when the window opens (several processes at once); 0: in 2 s");
  cycles
      ->add_option("--train-seconds", load.train_seconds,
                   "hold each lease this long, with progress at 1 Hz (0: complete at once)")
      ->capture_default_str();
  cycles->add_option("--points-per-report", load.points_per_report)->capture_default_str();
  cycles->add_flag("--finish-leased", load.finish_leased,
                   "after the window, stop leasing but train out and complete the runs held");
  cycles->add_option("--samples-out", load.samples_out, "counters and latencies, for `merge`");
  cycles->add_option("--acked-out", load.acked_out,
                     "attempt<TAB>run of every completion the coordinator acknowledged");
  auto* merge = app.add_subcommand("merge", "one line from several `cycles --samples-out` files");
  merge->add_option("files", files)->required();
  auto* ceiling =
      app.add_subcommand("ceiling", "the same transactions straight to PostgreSQL (no RPC)");
  ceiling->add_option("--database-url", url)->required();
  ceiling->add_option("--clients", clients)->capture_default_str();
  ceiling->add_option("--seconds", seconds)->capture_default_str();
  ceiling->add_option("--runs", runs, "queued runs to create first")->capture_default_str();
  auto* predict = app.add_subcommand("predict", "PredictLoss latency over gRPC");
  predict->add_option("--coordinator", conn.target)->required();
  predict->add_option("--queries", queries)->capture_default_str();
  CLI11_PARSE(app, argc, argv);
  if (fill->parsed()) {
    if (runs < 0 || sweep_size < 1 || sweep_size > 100000) {
      std::cerr << "fill: --sweep-size: must be in [1, 100000]\n";
      return 2;
    }
    return Fill(conn, runs, sweep_size, max_attempts);
  }
  if (cycles->parsed()) {
    if (load.workers < 1 || load.devices < 1 || load.channels < 1 || load.seconds <= 0 ||
        load.train_seconds < 0 || load.points_per_report < 0) {
      std::cerr << "cycles: --workers, --devices-per-worker, --channels and --seconds must be "
                   "positive; --train-seconds and --points-per-report not negative\n";
      return 2;
    }
    return Load(load);
  }
  if (merge->parsed()) return Merge(files);
  if (ceiling->parsed()) return Ceiling(url, clients, seconds, runs);
  return Predict(conn.target, queries);
}
