// Expands a validated SweepSpec into its runs, deterministically: the same
// spec gives the same runs, in the same order, on every machine.
//
// Sizes become shapes by model::ShapeForParams (common/model/architecture_rule.h);
// planned FLOPs use the exact per-token count (model::ExactFlopsPerToken) and
// 6ND beside it. Tokens are rounded up to whole batches. Runs are ordered
// size-major, then family, then seed, so the families of one size progress
// together and compare on identical budgets.
#pragma once

#include <absl/status/statusor.h>

#include <nlohmann/json.hpp>
#include <vector>

#include "common/model/model_counts.h"
#include "server/sweep_spec.h"

namespace ladder {

struct PlannedRun {
  int ordinal = 0;
  model::Family family = model::Family::kTransformer;
  model::ModelShape shape;
  int64_t seed = 0;
  double target_params = 0;   // the size asked for (non-embedding)
  double budget = 0;          // isoflop budget C, else 0
  int64_t tokens = 0;         // D, whole batches
  int64_t unique_tokens = 0;  // data-constrained U, else 0 (all fresh)
  model::ParamCount params;
  double flops = 0;      // exact: ExactFlopsPerToken(shape).training * tokens
  double flops_6nd = 0;  // 6 * non-embedding * tokens
  int64_t memory_bytes = 0;
  double learning_rate = 0;
  // The run configuration (worker/TRAINER_PROTOCOL.md), written by
  // protocol::ToJson (common/protocol/run_config.h), without run_id,
  // sweep_id and attempt, which are added when a run is leased
  // (protocol::StampAttempt).
  nlohmann::json config;
};

// Largest number of runs one sweep may expand into.
constexpr int kMaxRunsPerSweep = 100000;
// Largest serialized config of one run: a worker receives it in its lease
// (gRPC messages are capped at 4 MB), so a run over this could never start.
constexpr size_t kMaxRunConfigBytes = 1 << 20;
// Largest sum of the configs of one sweep (each run's config is stored).
constexpr size_t kMaxSweepConfigBytes = size_t{256} << 20;
// Largest training memory estimate accepted (no device comes near; above
// it the int64 estimate itself could overflow).
constexpr double kMaxRunMemoryBytes = 1e17;

// How many runs `spec` expands into, from its counts alone (nothing is
// built), or INVALID_ARGUMENT naming the field when that is over
// kMaxRunsPerSweep or the configs would be too large (above).
absl::StatusOr<int64_t> CountPlannedRuns(const SweepSpec& spec);

// INVALID_ARGUMENT, naming the field, when a size is too small for the
// architecture rule, two sizes collapse onto one shape, a budget gives less
// than one batch or more than kMaxTokens, or any limit above is exceeded.
// Counts and sizes are checked (CountPlannedRuns) before anything is built.
absl::StatusOr<std::vector<PlannedRun>> PlanSweep(const SweepSpec& spec);

}  // namespace ladder
