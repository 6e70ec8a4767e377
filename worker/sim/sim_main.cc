// ladder-sim: a SIMULATED trainer. It trains nothing. It speaks the trainer
// line protocol (worker/TRAINER_PROTOCOL.md) exactly like ladder-train, with
// parameter and FLOP counts from common/model, and draws its losses from a
// known scaling law plus noise (worker/sim/simulated_law.h), paced so that
// tests finish in a fraction of a second and demos look live. It can also
// misbehave on request (crash, hang, garbage, divergence) so the worker's
// supervision can be tested against a real process. Every `started` and
// `result` event says "simulated": true and "trainer": "ladder-sim".
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
#include "worker/sim/sim_config.h"
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
void Emit(const json& event) {
  const std::string line = event.dump() + "\n";
  std::fwrite(line.data(), 1, line.size(), stdout);
  std::fflush(stdout);
}

int EmitError(const std::string& kind, const std::string& message, int exit_code) {
  Log("error (" + kind + "): " + message);
  Emit({{"event", "error"}, {"kind", kind}, {"message", message}});
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

// Warmup + cosine, as TRAINER_PROTOCOL.md describes for ladder-train.
double LearningRate(const SimRunConfig& c, int64_t step, int64_t total_steps) {
  const int64_t warmup = std::max<int64_t>(1, std::llround(c.warmup_fraction * total_steps));
  if (step <= warmup) return c.lr * static_cast<double>(step) / warmup;
  const double p = static_cast<double>(step - warmup) / std::max<int64_t>(1, total_steps - warmup);
  const double min_lr = c.min_lr_ratio * c.lr;
  return min_lr + (c.lr - min_lr) * 0.5 * (1 + std::cos(M_PI * std::min(p, 1.0)));
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "ladder-sim: a SIMULATED trainer for tests and load work. It trains nothing: it speaks\n"
      "the trainer line protocol (worker/TRAINER_PROTOCOL.md) and draws its losses from the\n"
      "scaling law L(N,D) = E + A/N^alpha + B/D^beta plus noise (the config's `simulation`\n"
      "block, or family defaults). Every event it prints says \"simulated\": true.",
      "ladder-sim"};
  std::string config_path;
  std::string work_dir;
  std::string device = "cpu";
  int threads = 1;
  double time_scale = 1.0;
  app.add_option("--config", config_path, "run configuration JSON (written by the worker)")
      ->required();
  app.add_option("--work-dir", work_dir, "the run's directory: checkpoints, fault markers")
      ->required();
  app.add_option("--device", device, "cpu or cuda:K (only reported; nothing runs there)");
  app.add_option("--threads", threads, "CPU threads (only reported)");
  app.add_option("--time-scale", time_scale,
                 "multiplies every simulated duration (0 = as fast as possible)")
      ->check(CLI::NonNegativeNumber);
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    return EmitError("internal", std::string("bad command line: ") + e.what(), kExitBadConfig);
  }

  struct sigaction sa {};
  sa.sa_handler = OnSigterm;
  sigemptyset(&sa.sa_mask);
  sigaction(SIGTERM, &sa, nullptr);

  Log("SIMULATED trainer: no model is trained; losses come from a scaling law plus noise");

  // ------------------------------------------------------------ config
  std::ifstream config_in(config_path);
  if (!config_in) return EmitError("internal", "cannot read config " + config_path, kExitError);
  std::stringstream config_text;
  config_text << config_in.rdbuf();
  auto parsed = ladder::sim::ParseSimRunConfig(config_text.str());
  if (!parsed.ok())
    return EmitError("bad_config", std::string(parsed.status().message()), kExitBadConfig);
  const SimRunConfig c = *std::move(parsed);
  const auto& sim = c.sim;
  if (sim.fault == "bad_config") {
    return EmitError("bad_config", "simulated bad_config fault", kExitBadConfig);
  }

  // ------------------------------------------------------------ the model, counted
  const auto counts = ladder::model::CountParams(c.shape);
  const auto fpt = ladder::model::ExactFlopsPerToken(c.shape);
  const double fpt_6n = ladder::model::SixNFlopsPerToken(c.shape);
  const double law_n =
      static_cast<double>(sim.params == "total" ? counts.total : counts.non_embedding);
  if (law_n <= 0)
    return EmitError("bad_config", "model has no parameters to scale", kExitBadConfig);
  const int64_t total_steps = (c.tokens + c.batch_tokens - 1) / c.batch_tokens;
  const auto tokens_at = [&](int64_t step) { return std::min(step * c.batch_tokens, c.tokens); };
  const double unique = c.unique_tokens > 0 && c.unique_tokens < c.tokens
                            ? static_cast<double>(c.unique_tokens)
                            : 0.0;
  const auto law_loss = [&](int64_t tokens) {
    return ladder::sim::LawLoss(sim.law, law_n,
                                ladder::sim::EffectiveTokens(static_cast<double>(tokens), unique),
                                c.shape.vocab);
  };

  // ------------------------------------------------------------ schedule of events
  const int64_t log_every = std::max<int64_t>(
      c.log_interval_steps, (total_steps + sim.max_progress_events - 1) / sim.max_progress_events);
  const int64_t eval_every =
      c.eval_interval_tokens > 0
          ? std::max<int64_t>(log_every, c.eval_interval_tokens / c.batch_tokens)
          : 0;
  std::set<int64_t> checkpoint_steps;
  for (int i = 1; i < sim.checkpoints; ++i) {
    const int64_t s = std::llround(static_cast<double>(total_steps) * i / sim.checkpoints);
    if (s > 0 && s < total_steps) checkpoint_steps.insert(s);
  }
  std::string fault = sim.fault;
  if (fault == "crash_once") {
    const std::string marker = work_dir + "/" + kCrashOnceMarker;
    if (::access(marker.c_str(), F_OK) == 0) {
      fault.clear();  // crashed on an earlier attempt
    } else {
      std::ofstream(marker) << "ladder-sim crashed here once (simulated)\n";
      fault = "crash";
    }
  }
  const int64_t fault_step = std::llround(sim.fault_at * static_cast<double>(total_steps));

  // ------------------------------------------------------------ resume
  Checkpoint resumed;
  if (auto ck = ReadCheckpoint(work_dir, c.identity); ck && ck->step < total_steps) {
    resumed = *ck;
    Log("resuming from checkpoint at step " + std::to_string(resumed.step));
  }

  // ------------------------------------------------------------ pacing
  const double planned_flops = fpt.training * static_cast<double>(c.tokens);
  const double run_seconds =
      (sim.seconds >= 0 ? sim.seconds
                        : std::min(sim.max_seconds, planned_flops / 1e15 * sim.seconds_per_pflop)) *
      time_scale;
  const double seconds_per_step = run_seconds / static_cast<double>(total_steps);
  const auto start = Clock::now();
  const auto elapsed = [&] { return std::chrono::duration<double>(Clock::now() - start).count(); };

  Emit({{"event", "started"},
        {"trainer", "ladder-sim"},
        {"version", kVersion},
        {"simulated", true},
        {"device", device},
        {"threads", threads},
        {"params_total", counts.total},
        {"params_non_embedding", counts.non_embedding},
        {"flops_per_token", fpt.training},
        {"flops_per_token_6n", fpt_6n},
        {"total_steps", total_steps},
        {"resumed_from_step", resumed.step},
        {"resumed_from_tokens", resumed.tokens}});

  // Returns an exit code when the fault ends the run, -1 otherwise.
  const auto strike = [&](int64_t step) -> int {
    const std::string where = " at step " + std::to_string(step);
    if (fault == "crash") {
      Log("simulated crash" + where);
      return kExitCrash;
    }
    if (fault == "abort") {
      Log("simulated abort" + where);
      std::abort();
    }
    if (fault == "diverge")
      return EmitError("diverged", "simulated divergence" + where, kExitError);
    if (fault == "non_finite") {
      return EmitError("non_finite", "simulated non-finite loss" + where, kExitError);
    }
    if (fault == "garbage") {
      const std::string line = "simulated garbage" + where + ": this line is not JSON\n";
      std::fwrite(line.data(), 1, line.size(), stdout);
      std::fflush(stdout);
      fault.clear();  // carry on as if nothing happened; the worker should not
      return -1;
    }
    if (fault == "hang") {
      Log("simulated hang" + where + ": no more output, SIGTERM ignored");
      signal(SIGTERM, SIG_IGN);
      for (;;) pause();
    }
    return -1;
  };
  if (!fault.empty() && fault_step <= resumed.step) {
    if (int code = strike(resumed.step); code >= 0) return code;
  }

  // ------------------------------------------------------------ the "training" loop
  const uint64_t seed = c.identity;
  const double final_z = ladder::sim::Normal(seed, 0, 0);
  double train_loss = 0;
  double eval_loss = 0;
  for (int64_t step = resumed.step + 1; step <= total_steps; ++step) {
    const bool last = step == total_steps;
    const bool log_step = last || step % log_every == 0;
    const bool eval_step = last || (eval_every > 0 && step % eval_every == 0);
    const bool checkpoint_step = checkpoint_steps.count(step) > 0;
    const bool fault_now = !fault.empty() && step >= fault_step;
    if (!(log_step || checkpoint_step || fault_now)) continue;

    if (!SleepUntil(start +
                    std::chrono::duration_cast<Clock::duration>(std::chrono::duration<double>(
                        seconds_per_step * static_cast<double>(step - resumed.step))))) {
      const int64_t done = step - 1;
      if (done > resumed.step) {
        Checkpoint ck{done, tokens_at(done), resumed.wall_seconds + elapsed()};
        if (WriteCheckpoint(work_dir, seed, ck)) {
          Emit({{"event", "checkpoint"}, {"step", ck.step}, {"tokens", ck.tokens}});
        }
      }
      Log("SIGTERM: stopping at step " + std::to_string(done));
      return kExitTerminated;
    }

    const int64_t tokens = tokens_at(step);
    const double expected = law_loss(tokens);
    if (log_step) {
      train_loss = expected * (1 + 2 * sim.noise * ladder::sim::Normal(seed, 2, step));
      json eval = nullptr;
      if (eval_step) {
        const double z = last ? final_z : ladder::sim::Normal(seed, 1, step);
        eval_loss = expected * (1 + sim.noise * z);
        eval = eval_loss;
      }
      const double secs = std::max(elapsed(), 1e-6);
      const double tps = static_cast<double>(tokens - resumed.tokens) / secs;
      Emit({{"event", "progress"},
            {"step", step},
            {"tokens", tokens},
            {"flops", fpt.training * static_cast<double>(tokens)},
            {"train_loss", train_loss},
            {"eval_loss", eval},
            {"lr", LearningRate(c, step, total_steps)},
            {"grad_norm", 0.3 + 2.0 * std::exp(-5.0 * step / total_steps) +
                              0.05 * std::fabs(ladder::sim::Normal(seed, 3, step))},
            {"tokens_per_second", tps},
            {"flops_per_second", tps * fpt.training},
            {"mfu", nullptr}});
    }
    if (checkpoint_step) {
      Checkpoint ck{step, tokens, resumed.wall_seconds + elapsed()};
      if (WriteCheckpoint(work_dir, seed, ck)) {
        Emit({{"event", "checkpoint"}, {"step", step}, {"tokens", tokens}});
      } else {
        Log("could not write checkpoint in " + work_dir);
      }
    }
    if (fault_now) {  // at fault_at 1: after the last progress, before the result
      if (int code = strike(step); code >= 0) return code;
    }
  }

  // ------------------------------------------------------------ result
  const double expected_final = law_loss(c.tokens);
  const double unique_tokens = unique > 0 ? unique : static_cast<double>(c.tokens);
  Emit({{"event", "result"},
        {"final_eval_loss", eval_loss},
        {"final_train_loss", train_loss},
        {"params_total", counts.total},
        {"params_non_embedding", counts.non_embedding},
        {"tokens", c.tokens},
        {"unique_tokens", static_cast<int64_t>(unique_tokens)},
        {"epochs", static_cast<double>(c.tokens) / unique_tokens},
        {"flops", planned_flops},
        {"flops_6n", fpt_6n * static_cast<double>(c.tokens)},
        {"wall_seconds", resumed.wall_seconds + elapsed()},
        {"device", device},
        {"simulated", true},
        {"trainer", "ladder-sim"},
        {"details",
         {{"simulation", true},
          {"law",
           {{"E", sim.law.E},
            {"A", sim.law.A},
            {"alpha", sim.law.alpha},
            {"B", sim.law.B},
            {"beta", sim.law.beta}}},
          {"law_params", sim.params},
          {"law_n", law_n},
          {"effective_tokens", ladder::sim::EffectiveTokens(static_cast<double>(c.tokens), unique)},
          {"expected_final_eval_loss", expected_final},
          {"noise", sim.noise},
          {"noise_z", final_z},
          {"resumed_from_step", resumed.step}}}});
  Log("done: final eval loss " + std::to_string(eval_loss) + " (law " +
      std::to_string(expected_final) + ")");
  return 0;
}
