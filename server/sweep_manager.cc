#include "server/sweep_manager.h"

#include <absl/status/status.h>

#include <cstdio>

#include "common/model/model_shape.h"
#include "server/sweep_planner.h"
#include "server/sweep_spec.h"

namespace ladder {
namespace {

std::string GiB(int64_t bytes) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.2f GiB", static_cast<double>(bytes) / (1024.0 * 1024 * 1024));
  return buf;
}

// Overlap of successive watch reads, so that a transaction that committed
// after the previous read but stamped its rows earlier is still seen.
constexpr int64_t kWatchOverlapMs = 5000;

}  // namespace

absl::StatusOr<v1::CreateSweepResponse> SweepManager::Create(const std::string& spec_yaml,
                                                             bool dry_run) {
  if (spec_yaml.size() > (1 << 20))
    return absl::InvalidArgumentError("spec_yaml: larger than 1 MiB");
  auto spec = ParseSweepSpec(spec_yaml);
  if (!spec.ok()) return spec.status();
  auto runs = PlanSweep(*spec);
  if (!runs.ok()) return runs.status();

  auto largest = sweeps_->LargestDeviceMemory(spec->device);
  if (!largest.ok()) return largest.status();
  if (*largest > 0) {
    for (const PlannedRun& r : *runs) {
      if (r.memory_bytes > *largest) {
        return absl::InvalidArgumentError(
            "runs[" + std::to_string(r.ordinal) + "]: " + model::DescribeShape(r.shape) +
            " needs about " + GiB(r.memory_bytes) + " to train, more than any registered " +
            (spec->device == "any" ? std::string("") : spec->device + " ") + "device (largest " +
            GiB(*largest) + ")");
      }
    }
  }

  v1::CreateSweepResponse out;
  if (dry_run) {
    v1::Sweep* s = out.mutable_sweep();
    s->set_name(spec->name);
    s->set_kind(std::string(SweepKindName(spec->kind)));
    for (auto f : spec->families) s->add_families(std::string(model::FamilyName(f)));
    s->set_priority(spec->priority);
    s->set_max_attempts(spec->max_attempts);
    s->set_spec_yaml(spec_yaml);
    s->set_spec_json(SweepSpecToJson(*spec).dump());
    s->mutable_counts()->set_total(static_cast<int64_t>(runs->size()));
    s->mutable_counts()->set_queued(static_cast<int64_t>(runs->size()));
    double flops = 0;
    for (const PlannedRun& r : *runs) flops += r.flops;
    s->set_planned_flops(flops);
  } else {
    auto stored = sweeps_->CreateSweep(spec_yaml, *spec, *runs);
    if (!stored.ok()) return stored.status();
    *out.mutable_sweep() = *std::move(stored);
  }
  if (!dry_run) return out;
  for (const PlannedRun& r : *runs) {
    v1::Run* run = out.add_runs();
    run->set_sweep_id(out.sweep().id());
    run->set_ordinal(r.ordinal);
    run->set_family(std::string(model::FamilyName(r.family)));
    run->set_state(v1::RUN_STATE_QUEUED);
    run->set_config_json(r.config.dump());
    run->set_shape(model::DescribeShape(r.shape));
    run->set_planned_params(r.params.total);
    run->set_planned_non_embedding_params(r.params.non_embedding);
    run->set_planned_tokens(r.tokens);
    run->set_planned_flops(r.flops);
    run->set_planned_flops_6nd(r.flops_6nd);
    run->set_memory_bytes(r.memory_bytes);
    run->set_max_attempts(spec->max_attempts);
  }
  return out;
}

absl::Status SweepWatch::Poll(v1::SweepEvent* event, bool* has_event) {
  *has_event = false;
  auto sweep = sweeps_->GetSweep(sweep_id_);
  if (!sweep.ok()) return sweep.status();
  int64_t now_ms = 0;
  auto runs =
      sweeps_->ListRunsUpdatedSince(sweep_id_, first_ ? 0 : since_ms_ - kWatchOverlapMs, &now_ms);
  if (!runs.ok()) return runs.status();
  since_ms_ = now_ms;
  event->Clear();
  for (v1::Run& r : *runs) {
    Seen now{r.state(), r.tokens_done(), r.attempts()};
    auto it = seen_.find(r.id());
    if (!first_ && it != seen_.end() && it->second.state == now.state &&
        it->second.tokens_done == now.tokens_done && it->second.attempts == now.attempts) {
      continue;
    }
    seen_[r.id()] = now;
    *event->add_runs() = std::move(r);
  }
  v1::Sweep summary = *sweep;
  summary.clear_spec_yaml();
  summary.clear_spec_json();
  const std::string key = summary.counts().SerializeAsString() + std::to_string(summary.state()) +
                          std::to_string(static_cast<int64_t>(summary.progress() * 1e6));
  const bool ended = sweep->state() != v1::SWEEP_STATE_ACTIVE;
  if (first_ || key != last_sweep_ || event->runs_size() > 0 || ended) {
    *event->mutable_sweep() = first_ ? *sweep : summary;
    *has_event = true;
    last_sweep_ = key;
  }
  first_ = false;
  if (ended) ended_ = true;
  return absl::OkStatus();
}

}  // namespace ladder
