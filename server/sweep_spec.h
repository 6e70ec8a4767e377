// A sweep file (YAML), parsed and validated. The format is documented with a
// commented example in deploy/sweeps/example.yaml. A spec is immutable once
// stored; SweepSpecToJson gives the normalised form stored beside the YAML.
#pragma once

#include <absl/status/statusor.h>

#include <cstdint>
#include <map>
#include <nlohmann/json.hpp>
#include <string>
#include <vector>

#include "common/enums/enums.h"
#include "common/model/architecture_rule.h"
#include "common/model/model_shape.h"

namespace ladder {

// Stored in sweeps.kind; the one name table is in common/enums/enums.h.
using enums::SweepKind;
inline std::string_view SweepKindName(SweepKind kind) { return enums::Name(kind); }

struct LearningRateSpec {
  model::LrRule rule = model::LrRule::kKaplan;
  double scale = 1.0;  // multiplies the rule (for "constant": the rate itself)
  std::map<model::Family, double> family_scale;  // extra factor per family
};

struct TrainSpec {
  int64_t batch_tokens = 4096;
  LearningRateSpec learning_rate;
  double warmup_fraction = 0.05;
  double min_lr_ratio = 0.1;
  double weight_decay = 0.1;
  double grad_clip = 1.0;
  double beta1 = 0.9;
  double beta2 = 0.95;
  int64_t eval_tokens = 65536;
  int64_t eval_interval_tokens = 0;  // 0: the trainer's default
  int log_interval_steps = 10;
};

// kind: ladder. Sizes on a geometric grid from min to max params (inclusive),
// each trained for tokens_per_param x params tokens.
struct LadderSpec {
  double min_params = 0;
  double max_params = 0;
  int steps = 0;
  double tokens_per_param = 20;
};

// kind: isoflop. For each budget C, `sizes` models log-spaced over a factor
// `spread` around N_c = sqrt(C / (6 * 20)) (the 20-tokens-per-parameter
// optimum under C = 6ND), or the explicit `params`; D = C / exact FLOPs per token.
struct IsoflopSpec {
  std::vector<double> budgets;
  int sizes = 5;
  double spread = 8;
  std::vector<double> params;
};

// kind: grid. Every params x tokens pair.
struct GridSpec {
  std::vector<double> params;
  std::vector<double> tokens;
};

// kind: data_constrained. Fixed unique tokens U, D = epochs x U.
struct DataConstrainedSpec {
  double unique_tokens = 0;
  std::vector<double> epochs;
  std::vector<double> params;
};

// fit: how the refit loop fits the sweep's results.
struct FitSpec {
  // Fit power_law_shared_e: one irreducible loss E for all families, each
  // its own A and alpha (server/fit/shared_e_fit.h). Defaults to true with
  // two or more families (they share the data and tokenizer, so the entropy
  // floor); true with one family is an error.
  bool shared_e = false;
};

struct SweepSpec {
  std::string name;
  SweepKind kind = SweepKind::kLadder;
  std::vector<model::Family> families;
  int priority = 0;
  int max_attempts = 3;
  std::vector<int64_t> seeds = {1};
  std::string device = "any";  // any | cpu | cuda
  // The default corpus, the trainer's too (common/protocol/run_config.h).
  std::string dataset = "debian-en";
  int context = 64;
  int vocab = 256;
  model::ArchitectureRule architecture;
  TrainSpec train;
  LadderSpec ladder;
  IsoflopSpec isoflop;
  GridSpec grid;
  DataConstrainedSpec data_constrained;
  // Compute at which dashboards show the predicted loss (0: 100x the largest run).
  double target_compute = 0;
  FitSpec fit;
  // Passed verbatim into every run config (read by ladder-sim only).
  nlohmann::json simulation;
};

// Limits on what a sweep file may ask for, checked while parsing so that
// nothing is built from a hostile file (sweep_planner.h limits the product).
inline constexpr size_t kMaxSweepFileBytes = 1 << 20;  // the YAML text
inline constexpr double kMaxParams = 1e13;             // a run's non-embedding params
inline constexpr double kMaxTokens = 1e15;             // a run's training tokens
inline constexpr double kMaxBudget = 1e30;             // an isoflop budget, FLOPs
inline constexpr int kMaxSimulationDepth = 32;         // nesting of `simulation`

// Parses and validates a sweep file. Errors are INVALID_ARGUMENT and name
// every field at fault with its line: "ladder.steps (line 9): must be at
// least 2, got 1". Unknown fields are errors too (typos should not pass).
// Hostile input is refused, never expanded: YAML anchors and aliases (an
// alias bomb of a few hundred bytes expands to gigabytes), more than one
// document, text over kMaxSweepFileBytes or not valid UTF-8, NUL characters,
// numbers out of each field's range. At most 20 errors are listed in full.
// Never throws.
absl::StatusOr<SweepSpec> ParseSweepSpec(const std::string& yaml);

nlohmann::json SweepSpecToJson(const SweepSpec& spec);

}  // namespace ladder
