// ladder-sim's reading of a run configuration (worker/TRAINER_PROTOCOL.md)
// and of its `simulation` block. SIMULATION ONLY: real trainers ignore the
// `simulation` block. Pure functions: safe from any thread.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <nlohmann/json.hpp>
#include <string>

#include "common/model/model_shape.h"
#include "worker/sim/simulated_law.h"

namespace ladder::sim {

// The `simulation` block; every field optional. See worker/README.md.
struct SimulationSpec {
  // The law the losses follow: the family default (DefaultLaw) with any of
  // `law.{E,A,alpha,B,beta}` overridden.
  LawParams law;
  // Which N the law uses: "non_embedding" (default) or "total".
  std::string params = "non_embedding";
  // Relative standard deviation of the multiplicative noise on eval losses;
  // train losses get twice this.
  double noise = 0.01;
  // Wall time of the whole run in seconds; when absent, planned FLOPs x
  // seconds_per_pflop / 1e15, capped at max_seconds. Scaled by --time-scale.
  double seconds = -1;             // < 0: absent
  double seconds_per_pflop = 100;  // a simulated 10 TFLOP/s device
  double max_seconds = 60;
  // Fault to inject: "" (none), crash, crash_once, abort, hang, garbage,
  // diverge, non_finite, bad_config.
  std::string fault;
  double fault_at = 0.5;  // fraction of the run's steps at which it strikes
  int checkpoints = 4;    // checkpoints at 1/k, 2/k, ... (k-1)/k of the run; 0 = none
  // Upper bound on progress events per run (the log interval is widened).
  int max_progress_events = 200;
  // The simulated training corpus, in tokens; 0 = kDefaultSimulatedCorpusTokens.
  // A run longer than it repeats it (the law's data-constrained term applies)
  // unless data.unique_tokens caps the corpus lower.
  int64_t corpus_tokens = 0;
};

// SIMULATION: the corpus a run draws on when neither data.unique_tokens nor
// simulation.corpus_tokens says: 1e12 tokens, a web-scale corpus no
// simulated ladder exhausts, so every run sees fresh data as before.
inline constexpr int64_t kDefaultSimulatedCorpusTokens = 1'000'000'000'000;

// The run configuration as ladder-sim uses it: the protocol's common part
// (read by common/protocol/run_config.h, the one reader every trainer uses)
// flattened to what the simulation needs, and its `simulation` block.
struct SimRunConfig {
  int64_t run_id = 0;
  int64_t sweep_id = 0;
  int64_t attempt = 0;
  model::ModelShape shape;
  int64_t tokens = 0;        // train.tokens, D
  int64_t batch_tokens = 0;  // train.batch_tokens
  double lr = 1e-3;
  double min_lr_ratio = 0.1;
  double warmup_fraction = 0.05;
  int64_t seed = 0;
  int64_t eval_interval_tokens = 0;  // 0 = evaluate only at the end
  int64_t log_interval_steps = 10;
  std::string dataset;
  int64_t unique_tokens = 0;  // 0 = all fresh
  SimulationSpec sim;
  // The corpus the run draws on, reported as the result's corpus_tokens:
  // data.unique_tokens, else simulation.corpus_tokens, else the default.
  int64_t corpus_tokens = kDefaultSimulatedCorpusTokens;
  // Everything that identifies the run apart from its attempt: the noise
  // seed and the checkpoint's fingerprint, so every attempt of a run (and
  // the same config anywhere) draws the same curve.
  uint64_t identity = 0;
};

// Errors: INVALID_ARGUMENT naming the field, with the messages every trainer
// gives for the common part ("model.d_model must be positive (got 0)",
// "train.batch_tokens is required") and the same form for the `simulation`
// block ("simulation.fault is not a known fault (got \"explode\")").
absl::StatusOr<SimRunConfig> ParseSimRunConfig(const std::string& json_text);

// Reads the `simulation` block (null: every default) for a model of
// `family`; false with `error` naming the field.
bool ReadSimulationSpec(const nlohmann::json& simulation, model::Family family,
                        SimulationSpec* spec, std::string* error);

}  // namespace ladder::sim
