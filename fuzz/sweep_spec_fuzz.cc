// Sweep files, as the coordinator handles them (server/sweep_manager.cc):
// parse, normalise to JSON, count, plan. Planning is skipped above 256 runs
// to keep executions fast; the count is checked for every input.
#include <cmath>
#include <cstdint>
#include <string>

#include "fuzz/fuzz_util.h"
#include "server/sweep_planner.h"
#include "server/sweep_spec.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  using ladder::fuzz::Check;
  const std::string yaml(reinterpret_cast<const char*>(data), size);
  const auto spec = ladder::ParseSweepSpec(yaml);
  if (!spec.ok()) {
    Check(spec.status().code() == absl::StatusCode::kInvalidArgument, "error is INVALID_ARGUMENT");
    Check(spec.status().message().size() < 8192, "error message is short");
    return 0;
  }
  const std::string normalised = ladder::SweepSpecToJson(*spec).dump();  // throws on bad UTF-8
  Check(!normalised.empty(), "normalised spec");
  const auto count = ladder::CountPlannedRuns(*spec);
  if (!count.ok() || *count > 256) return 0;
  const auto runs = ladder::PlanSweep(*spec);
  if (!runs.ok()) {
    Check(runs.status().code() == absl::StatusCode::kInvalidArgument,
          "plan error is INVALID_ARGUMENT");
    return 0;
  }
  Check(static_cast<int64_t>(runs->size()) <= *count, "no more runs than counted");
  for (const auto& r : *runs) {
    Check(r.tokens > 0 && r.tokens <= ladder::kMaxTokens + spec->train.batch_tokens,
          "tokens in range");
    Check(std::isfinite(r.flops) && r.flops > 0, "finite FLOPs");
    Check(std::isfinite(r.learning_rate) && r.learning_rate > 0, "finite learning rate");
    Check(r.memory_bytes > 0, "memory estimate did not wrap");
    Check(r.params.non_embedding > 0 && r.params.total > 0, "parameter counts did not wrap");
    Check(r.config.dump().size() <= ladder::kMaxRunConfigBytes, "config under the limit");
  }
  return 0;
}
