// ladder-sim: a SIMULATED trainer. It trains nothing. It speaks the trainer
// line protocol (worker/TRAINER_PROTOCOL.md) exactly like ladder-train, through
// the protocol's writers (common/protocol/trainer_events.h), with
// parameter and FLOP counts from common/model, and draws its losses from a
// known scaling law plus noise (worker/sim/simulated_law.h), paced so that
// tests finish in a fraction of a second and demos look live. It can also
// misbehave on request (crash, hang, garbage, divergence) so the worker's
// supervision can be tested against a real process. Every `started` and
// `result` event says "simulated": true; `started` says "trainer": "ladder-sim"
// (and the result's details too).
//
// Single-threaded. SIGTERM: write a checkpoint, exit 143 without a result.
#include <fcntl.h>
#include <signal.h>
#include <unistd.h>

#include <CLI/CLI.hpp>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <fstream>
#include <nlohmann/json.hpp>
#include <set>
#include <sstream>
#include <string>
#include <thread>

#include "common/model/model_counts.h"
#include "common/protocol/trainer_events.h"
#include "worker/sim/sim_config.h"
#include "worker/sim/sim_schedule.h"
#include "worker/sim/simulated_law.h"

namespace {

using ladder::sim::SimRunConfig;
using nlohmann::json;
using Clock = std::chrono::steady_clock;

constexpr char kVersion[] = "0.1.0";
constexpr char kCheckpointFile[] = "sim-checkpoint.json";
constexpr char kCrashOnceMarker[] = "sim-crash-once.marker";
constexpr int kExitError = 1;      // after an `error` event
constexpr int kExitBadConfig = 2;  // after an `error` event of kind bad_config
constexpr int kExitCrash = 3;      // simulated crash, no event
constexpr int kExitTerminated = 143;

volatile sig_atomic_t g_stop = 0;
void OnSigterm(int) { g_stop = 1; }

void Log(const std::string& message) {
  std::string line = "ladder-sim [SIMULATION]: " + message + "\n";
  ssize_t ignored = ::write(STDERR_FILENO, line.data(), line.size());
  (void)ignored;
}

// One protocol event per line on stdout, flushed at once (stdout is a pipe).
template <class Event>
void Emit(const Event& event) {
  const std::string line = ladder::protocol::WriteEventLine(event) + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

int EmitError(const std::string& kind, const std::string& message, int exit_code) {
  Log("error (" + kind + "): " + message);
  Emit(ladder::protocol::ErrorEvent{kind, message});
  return exit_code;
}

// Sleeps until `until`; returns false early when SIGTERM arrived.
bool SleepUntil(Clock::time_point until) {
  while (!g_stop) {
    const auto now = Clock::now();
    if (now >= until) return true;
    std::this_thread::sleep_for(
        std::min<Clock::duration>(until - now, std::chrono::milliseconds(20)));
  }
  return false;
}

std::string HexId(uint64_t id) {
  char buf[17];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(id));
  return buf;
}

struct Checkpoint {
  int64_t step = 0;
  int64_t tokens = 0;
  double wall_seconds = 0;  // run wall time up to this checkpoint, all attempts
};

// Written to a temporary file, fsynced, renamed: a reader sees the old or
// the new checkpoint, never half of one.
bool WriteCheckpoint(const std::string& dir, uint64_t identity, const Checkpoint& c) {
  const std::string path = dir + "/" + kCheckpointFile;
  const std::string tmp = path + ".tmp";
  const std::string text = json{
      {"trainer", "ladder-sim"},
      {"identity", HexId(identity)},
      {"step", c.step},
      {"tokens", c.tokens},
      {"wall_seconds",
       c.wall_seconds}}.dump();
  const int fd = ::open(tmp.c_str(), O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
  if (fd < 0) return false;
  const bool ok = ::write(fd, text.data(), text.size()) == static_cast<ssize_t>(text.size()) &&
                  ::fsync(fd) == 0;
  ::close(fd);
  return ok && ::rename(tmp.c_str(), path.c_str()) == 0;
}

// The newest checkpoint of this same run, if any.
std::optional<Checkpoint> ReadCheckpoint(const std::string& dir, uint64_t identity) {
  std::ifstream in(dir + "/" + kCheckpointFile);
  if (!in) return std::nullopt;
  try {
    const json j = json::parse(in);
    if (j.value("identity", "") != HexId(identity)) {
      Log("ignoring a checkpoint of a different configuration");
      return std::nullopt;
    }
    return Checkpoint{j.at("step").get<int64_t>(), j.at("tokens").get<int64_t>(),
                      j.value("wall_seconds", 0.0)};
  } catch (const std::exception& e) {
    Log(std::string("ignoring an unreadable checkpoint: ") + e.what());
    return std::nullopt;
  }
}

struct Options {
  std::string config_path;
  std::string work_dir;
  std::string device = "cpu";
  int threads = 1;
  double time_scale = 1.0;
};

// Parses argv into `o`; returns an exit code when the process should end
// (help, a bad command line), -1 otherwise.
int ParseCommandLine(int argc, char** argv, Options* o) {
  CLI::App app{
      "ladder-sim: a SIMULATED trainer for tests and load work. It trains nothing: it speaks\n"
      "the trainer line protocol (worker/TRAINER_PROTOCOL.md) and draws its losses from the\n"
      "scaling law L(N,D) = E + A/N^alpha + B/D^beta plus noise (the config's `simulation`\n"
      "block, or family defaults). Every event it prints says \"simulated\": true.",
      "ladder-sim"};
  app.add_option("--config", o->config_path, "run configuration JSON (written by the worker)")
      ->required();
  app.add_option("--work-dir", o->work_dir, "the run's directory: checkpoints, fault markers")
      ->required();
  app.add_option("--device", o->device, "cpu or cuda:K (only reported; nothing runs there)");
  app.add_option("--threads", o->threads, "CPU threads (only reported)");
  app.add_option("--time-scale", o->time_scale,
                 "multiplies every simulated duration (0 = as fast as possible)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return EmitError("internal", std::string("bad command line: ") + e.what(), kExitBadConfig);
  }
  return -1;
}

// Everything about the run decided before the first event: the config, the
// model counted, the schedule of events, the fault, the resume point and
// the pacing.
struct Plan {
  SimRunConfig c;
  ladder::model::ParamCount counts;
  ladder::model::FlopsPerToken fpt;
  double fpt_6n = 0;
  double law_n = 0;         // the N the law uses
  double unique = 0;        // distinct tokens when data-constrained, else 0
  int64_t total_steps = 0;  // ceil(D / batch)
  int64_t log_every = 0;
  int64_t eval_every = 0;  // 0: only at the end
  std::set<int64_t> checkpoint_steps;
  std::string fault;  // "" once it has struck (crash_once) or when none
  int64_t fault_step = 0;
  Checkpoint resumed;
  double planned_flops = 0;
  double seconds_per_step = 0;

  int64_t TokensAt(int64_t step) const { return std::min(step * c.batch_tokens, c.tokens); }
  double LawLoss(int64_t tokens) const {
    return ladder::sim::LawLoss(c.sim.law, law_n,
                                ladder::sim::EffectiveTokens(static_cast<double>(tokens), unique),
                                c.shape.vocab);
  }
};

// Reads and checks the config into `plan`; returns an exit code after an
// error event, -1 when the run goes ahead.
int ReadConfig(const std::string& config_path, Plan* plan) {
  std::ifstream config_in(config_path);
  if (!config_in) return EmitError("internal", "cannot read config " + config_path, kExitError);
  std::stringstream config_text;
  config_text << config_in.rdbuf();
  auto parsed = ladder::sim::ParseSimRunConfig(config_text.str());
  if (!parsed.ok())
    return EmitError("bad_config", std::string(parsed.status().message()), kExitBadConfig);
  plan->c = *std::move(parsed);
  if (plan->c.sim.fault == "bad_config") {
    return EmitError("bad_config", "simulated bad_config fault", kExitBadConfig);
  }
  return -1;
}

// The model, counted; the schedule of events; the fault; resume; pacing.
int MakePlan(const Options& o, Plan* p) {
  const SimRunConfig& c = p->c;
  const auto& sim = c.sim;
  // ------------------------------------------------------------ the model, counted
  p->counts = ladder::model::CountParams(c.shape);
  p->fpt = ladder::model::ExactFlopsPerToken(c.shape);
  p->fpt_6n = ladder::model::SixNFlopsPerToken(c.shape);
  p->law_n = static_cast<double>(sim.params == "total" ? p->counts.total : p->counts.non_embedding);
  if (p->law_n <= 0)
    return EmitError("bad_config", "model has no parameters to scale", kExitBadConfig);
  p->total_steps = (c.tokens + c.batch_tokens - 1) / c.batch_tokens;
  // The corpus is data.unique_tokens when given (sim_config.h): a run longer
  // than its corpus repeats it.
  p->unique = c.corpus_tokens < c.tokens ? static_cast<double>(c.corpus_tokens) : 0.0;

  // ------------------------------------------------------------ schedule of events
  p->log_every =
      std::max<int64_t>(c.log_interval_steps,
                        (p->total_steps + sim.max_progress_events - 1) / sim.max_progress_events);
  p->eval_every = c.eval_interval_tokens > 0
                      ? std::max<int64_t>(p->log_every, c.eval_interval_tokens / c.batch_tokens)
                      : 0;
  for (int i = 1; i < sim.checkpoints; ++i) {
    const int64_t s = std::llround(static_cast<double>(p->total_steps) * i / sim.checkpoints);
    if (s > 0 && s < p->total_steps) p->checkpoint_steps.insert(s);
  }
  p->fault = sim.fault;
  if (p->fault == "crash_once") {
    const std::string marker = o.work_dir + "/" + kCrashOnceMarker;
    if (::access(marker.c_str(), F_OK) == 0) {
      p->fault.clear();  // crashed on an earlier attempt
    } else {
      std::ofstream(marker) << "ladder-sim crashed here once (simulated)\n";
      p->fault = "crash";
    }
  }
  p->fault_step = std::llround(sim.fault_at * static_cast<double>(p->total_steps));

  // ------------------------------------------------------------ resume
  if (auto ck = ReadCheckpoint(o.work_dir, c.identity); ck && ck->step < p->total_steps) {
    p->resumed = *ck;
    Log("resuming from checkpoint at step " + std::to_string(p->resumed.step));
  }

  // ------------------------------------------------------------ pacing
  p->planned_flops = p->fpt.training * static_cast<double>(c.tokens);
  const double run_seconds =
      (sim.seconds >= 0
           ? sim.seconds
           : std::min(sim.max_seconds, p->planned_flops / 1e15 * sim.seconds_per_pflop)) *
      o.time_scale;
  p->seconds_per_step = run_seconds / static_cast<double>(p->total_steps);
  return -1;
}

// One run of the simulated trainer, from the `started` event to the result.
class SimTrainer {
 public:
  SimTrainer(const Options& o, Plan plan)
      : o_(o), p_(std::move(plan)), fault_(p_.fault), seed_(p_.c.identity) {}

  int Run();

 private:
  double Elapsed() const { return std::chrono::duration<double>(Clock::now() - start_).count(); }
  void EmitStarted();
  // Returns an exit code when the fault ends the run, -1 otherwise.
  int Strike(int64_t step);
  // SIGTERM before `step`: checkpoint what is done, exit 143.
  int Terminated(int64_t step);
  void EmitProgress(int64_t step, bool last, bool eval_step);
  void WriteCheckpointAt(int64_t step);
  int EmitResult();

  const Options& o_;
  const Plan p_;
  std::string fault_;
  const uint64_t seed_;
  const double final_z_ = ladder::sim::Normal(p_.c.identity, 0, 0);
  Clock::time_point start_ = Clock::now();
  double train_loss_ = 0;
  double eval_loss_ = 0;
};

void SimTrainer::EmitStarted() {
  ladder::protocol::StartedEvent e;
  e.trainer = "ladder-sim";
  e.version = kVersion;
  e.simulated = true;
  e.device = o_.device;
  e.threads = o_.threads;
  e.params_total = p_.counts.total;
  e.params_non_embedding = p_.counts.non_embedding;
  e.flops_per_token = p_.fpt.training;
  e.flops_per_token_6n = p_.fpt_6n;
  e.total_steps = p_.total_steps;
  e.resumed_from_step = p_.resumed.step;
  e.resumed_from_tokens = p_.resumed.tokens;
  Emit(e);
}

int SimTrainer::Strike(int64_t step) {
  const std::string where = " at step " + std::to_string(step);
  if (fault_ == "crash") {
    Log("simulated crash" + where);
    return kExitCrash;
  }
  if (fault_ == "abort") {
    Log("simulated abort" + where);
    std::abort();
  }
  if (fault_ == "diverge") return EmitError("diverged", "simulated divergence" + where, kExitError);
  if (fault_ == "non_finite") {
    return EmitError("non_finite", "simulated non-finite loss" + where, kExitError);
  }
  if (fault_ == "garbage") {
    const std::string line = "simulated garbage" + where + ": this line is not JSON\n";
    std::fwrite(line.data(), 1, line.size(), stdout);
    std::fflush(stdout);
    fault_.clear();  // carry on as if nothing happened; the worker should not
    return -1;
  }
  if (fault_ == "hang") {
    Log("simulated hang" + where + ": no more output, SIGTERM ignored");
    signal(SIGTERM, SIG_IGN);
    for (;;) pause();
  }
  return -1;
}

int SimTrainer::Terminated(int64_t step) {
  const int64_t done = step - 1;
  if (done > p_.resumed.step) {
    Checkpoint ck{done, p_.TokensAt(done), p_.resumed.wall_seconds + Elapsed()};
    if (WriteCheckpoint(o_.work_dir, seed_, ck)) {
      Emit(ladder::protocol::CheckpointEvent{ck.step, ck.tokens});
    }
  }
  Log("SIGTERM: stopping at step " + std::to_string(done));
  return kExitTerminated;
}

void SimTrainer::EmitProgress(int64_t step, bool last, bool eval_step) {
  const int64_t tokens = p_.TokensAt(step);
  const double expected = p_.LawLoss(tokens);
  train_loss_ = expected * (1 + 2 * p_.c.sim.noise * ladder::sim::Normal(seed_, 2, step));
  ladder::protocol::ProgressEvent e;
  if (eval_step) {
    const double z = last ? final_z_ : ladder::sim::Normal(seed_, 1, step);
    eval_loss_ = expected * (1 + p_.c.sim.noise * z);
    e.eval_loss = eval_loss_;
  }
  const double secs = std::max(Elapsed(), 1e-6);
  const double tps = static_cast<double>(tokens - p_.resumed.tokens) / secs;
  e.step = step;
  e.tokens = tokens;
  e.flops = p_.fpt.training * static_cast<double>(tokens);
  e.train_loss = train_loss_;
  e.lr = ladder::sim::ReportedLearningRate(p_.c, step, p_.total_steps);
  e.grad_norm = 0.3 + 2.0 * std::exp(-5.0 * step / p_.total_steps) +
                0.05 * std::fabs(ladder::sim::Normal(seed_, 3, step));
  e.tokens_per_second = tps;
  e.flops_per_second = tps * p_.fpt.training;
  Emit(e);  // mfu: null, no device peak
}

void SimTrainer::WriteCheckpointAt(int64_t step) {
  Checkpoint ck{step, p_.TokensAt(step), p_.resumed.wall_seconds + Elapsed()};
  if (WriteCheckpoint(o_.work_dir, seed_, ck)) {
    Emit(ladder::protocol::CheckpointEvent{step, ck.tokens});
  } else {
    Log("could not write checkpoint in " + o_.work_dir);
  }
}

int SimTrainer::EmitResult() {
  const auto& c = p_.c;
  const auto& sim = c.sim;
  const double expected_final = p_.LawLoss(c.tokens);
  const double unique_tokens = p_.unique > 0 ? p_.unique : static_cast<double>(c.tokens);
  ladder::protocol::ResultEvent r;
  r.final_eval_loss = eval_loss_;
  r.final_train_loss = train_loss_;
  r.params_total = p_.counts.total;
  r.params_non_embedding = p_.counts.non_embedding;
  r.tokens = c.tokens;
  r.unique_tokens = static_cast<int64_t>(unique_tokens);
  r.epochs = static_cast<double>(c.tokens) / unique_tokens;
  r.flops = p_.planned_flops;
  r.flops_6n = p_.fpt_6n * static_cast<double>(c.tokens);
  r.wall_seconds = p_.resumed.wall_seconds + Elapsed();
  r.device = o_.device;
  r.simulated = true;
  r.corpus_tokens = c.corpus_tokens;
  r.details = {
      {"simulation", true},
      {"trainer", "ladder-sim"},
      {"law",
       {{"E", sim.law.E},
        {"A", sim.law.A},
        {"alpha", sim.law.alpha},
        {"B", sim.law.B},
        {"beta", sim.law.beta}}},
      {"law_params", sim.params},
      {"law_n", p_.law_n},
      {"effective_tokens", ladder::sim::EffectiveTokens(static_cast<double>(c.tokens), p_.unique)},
      {"expected_final_eval_loss", expected_final},
      {"noise", sim.noise},
      {"noise_z", final_z_},
      {"resumed_from_step", p_.resumed.step}};
  Emit(r);
  Log("done: final eval loss " + std::to_string(eval_loss_) + " (law " +
      std::to_string(expected_final) + ")");
  return 0;
}

int SimTrainer::Run() {
  start_ = Clock::now();
  EmitStarted();
  if (!fault_.empty() && p_.fault_step <= p_.resumed.step) {
    if (int code = Strike(p_.resumed.step); code >= 0) return code;
  }
  // ------------------------------------------------------------ the "training" loop
  for (int64_t step = p_.resumed.step + 1; step <= p_.total_steps; ++step) {
    const bool last = step == p_.total_steps;
    const bool log_step = last || step % p_.log_every == 0;
    const bool eval_step = last || (p_.eval_every > 0 && step % p_.eval_every == 0);
    const bool checkpoint_step = p_.checkpoint_steps.count(step) > 0;
    const bool fault_now = !fault_.empty() && step >= p_.fault_step;
    if (!(log_step || checkpoint_step || fault_now)) continue;

    const auto due =
        start_ + std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                     p_.seconds_per_step * static_cast<double>(step - p_.resumed.step)));
    if (!SleepUntil(due)) return Terminated(step);
    if (log_step) EmitProgress(step, last, eval_step);
    if (checkpoint_step) WriteCheckpointAt(step);
    if (fault_now) {  // at fault_at 1: after the last progress, before the result
      if (int code = Strike(step); code >= 0) return code;
    }
  }
  return EmitResult();
}

}  // namespace

int main(int argc, char** argv) {
  Options options;
  if (int code = ParseCommandLine(argc, argv, &options); code >= 0) return code;

  struct sigaction sa {};
  sa.sa_handler = OnSigterm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);

  Log("SIMULATED trainer: no model is trained; losses come from a scaling law plus noise");
  Plan plan;
  if (int code = ReadConfig(options.config_path, &plan); code >= 0) return code;
  if (int code = MakePlan(options, &plan); code >= 0) return code;
  return SimTrainer(options, std::move(plan)).Run();
}
