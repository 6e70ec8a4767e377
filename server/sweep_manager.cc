#include "server/sweep_manager.h"

#include <absl/status/status.h>

#if defined(__GLIBC__)
#include <malloc.h>
#endif

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>

#include "common/enums/proto_enums.h"
#include "common/logging.h"
#include "common/model/model_shape.h"
#include "common/utf8.h"

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
  const auto started = std::chrono::steady_clock::now();
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
    const auto planned_at = std::chrono::steady_clock::now();
    std::vector<store::NewRun> rows = RunRows(*runs);
    const size_t count = runs->size();
    *runs = {};  // the planned configs' JSON trees, no longer needed: gone before storing
    const auto rows_at = std::chrono::steady_clock::now();
    auto stored = sweeps_->CreateSweep(SweepRow(spec_yaml, *spec), rows);
    if (!stored.ok()) return stored.status();
    *out.mutable_sweep() = *std::move(stored);
    if (count >= 10000) {
      rows = {};
#if defined(__GLIBC__)
      // The planned configs and rows (about 400 MB for 100,000 runs) went
      // back to malloc; hand its free pages back to the system, so the
      // coordinator's resident size returns to its working set.
      malloc_trim(0);
#endif
      const auto ms = [](auto a, auto b) {
        return std::to_string(std::chrono::duration_cast<std::chrono::milliseconds>(b - a).count());
      };
      LOG_INFO << "sweep " << out.sweep().id() << ": " << count << " runs planned in "
               << ms(started, planned_at) << " ms, rows made in " << ms(planned_at, rows_at)
               << " ms, stored in " << ms(rows_at, std::chrono::steady_clock::now()) << " ms";
    }
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

absl::StatusOr<v1::Sweep> SweepManager::Import(const v1::ImportResultsRequest& request) {
  if (absl::Status st = ValidateImport(request); !st.ok()) return st;
  auto out = sweeps_->CreateImportedSweep(request);
  if (!out.ok()) return out.status();
  for (ImportObserver* o : observers_) o->OnSweepImported(out->id());
  return out;
}

absl::StatusOr<v1::Sweep> SweepManager::Get(int64_t sweep_id) {
  return sweeps_->GetSweep(sweep_id);
}

absl::StatusOr<std::vector<v1::Sweep>> SweepManager::List(bool active_only, int limit) {
  if (limit < 0) return absl::InvalidArgumentError("limit: must not be negative");
  auto out = sweeps_->ListSweeps(active_only, limit);
  if (!out.ok()) return out.status();
  for (auto& s : *out) {
    s.clear_spec_yaml();
    s.clear_spec_json();
  }
  return out;
}

absl::StatusOr<v1::Sweep> SweepManager::Cancel(int64_t sweep_id) {
  return sweeps_->CancelSweep(sweep_id);
}

std::string RunsPageToken(int64_t after_ordinal) { return "o" + std::to_string(after_ordinal); }

std::optional<int64_t> ParseRunsPageToken(const std::string& token) {
  // "o" and 1-10 digits: ordinals are int32 (the runs table's integer).
  if (token.size() < 2 || token.size() > 11 || token[0] != 'o' ||
      token.find_first_not_of("0123456789", 1) != std::string::npos) {
    return std::nullopt;
  }
  const int64_t v = std::stoll(token.substr(1));
  if (v > std::numeric_limits<int32_t>::max()) return std::nullopt;
  return v;
}

absl::StatusOr<v1::ListRunsResponse> SweepManager::ListRuns(const v1::ListRunsRequest& req) {
  if (!v1::RunState_IsValid(req.state()))
    return absl::InvalidArgumentError("state: unknown run state");
  if (req.page_size() < 0) {
    return absl::InvalidArgumentError("page_size: must not be negative (0 = up to " +
                                      std::to_string(kMaxRunsPageSize) + " runs), got " +
                                      std::to_string(req.page_size()));
  }
  int64_t after = -1;
  if (!req.page_token().empty()) {
    auto parsed = ParseRunsPageToken(req.page_token());
    if (!parsed) {
      return absl::InvalidArgumentError(
          "page_token: not a page token of this coordinator (pass next_page_token back as it "
          "came)");
    }
    after = *parsed;
  }
  const int limit =
      req.page_size() == 0 ? kMaxRunsPageSize : std::min(req.page_size(), kMaxRunsPageSize);
  auto page = sweeps_->ListRunsPage(
      req.sweep_id(), enums::FromProto(static_cast<v1::RunState>(req.state())), after, limit);
  if (!page.ok()) return page.status();
  v1::ListRunsResponse out;
  out.set_total(page->total);
  size_t bytes = 0;
  bool cut = false;
  for (v1::Run& r : page->runs) {
    const size_t size = r.ByteSizeLong() + 8;  // the field's tag and length
    if (out.runs_size() > 0 && bytes + size > kMaxRunsPageBytes) {
      cut = true;
      break;
    }
    bytes += size;
    *out.add_runs() = std::move(r);
  }
  if ((cut || page->more) && out.runs_size() > 0) {
    out.set_next_page_token(RunsPageToken(out.runs(out.runs_size() - 1).ordinal()));
  }
  return out;
}

absl::StatusOr<v1::Run> SweepManager::GetRun(int64_t run_id, bool include_curve) {
  return sweeps_->GetRun(run_id, include_curve);
}

store::NewSweep SweepRow(const std::string& spec_yaml, const SweepSpec& spec) {
  store::NewSweep row;
  row.name = spec.name;
  row.kind = spec.kind;
  for (auto f : spec.families) row.families.emplace_back(model::FamilyName(f));
  row.spec_yaml = spec_yaml;
  row.spec_json = SweepSpecToJson(spec).dump();
  row.priority = spec.priority;
  row.max_attempts = spec.max_attempts;
  row.device = spec.device;
  return row;
}

store::NewRun RunRow(const PlannedRun& r) {
  store::NewRun row;
  row.ordinal = r.ordinal;
  row.family = std::string(model::FamilyName(r.family));
  row.config_json = r.config.dump();
  row.shape = model::DescribeShape(r.shape);
  row.planned_params = r.params.total;
  row.planned_non_embedding = r.params.non_embedding;
  row.planned_tokens = r.tokens;
  row.planned_flops = r.flops;
  row.planned_flops_6nd = r.flops_6nd;
  row.memory_bytes = r.memory_bytes;
  return row;
}

std::vector<store::NewRun> RunRows(const std::vector<PlannedRun>& runs) {
  std::vector<store::NewRun> rows;
  rows.reserve(runs.size());
  for (const PlannedRun& r : runs) rows.push_back(RunRow(r));
  return rows;
}

absl::Status ValidateImport(const v1::ImportResultsRequest& req) {
  // Every value is checked against the range its column holds (bigint for
  // params, tokens and unique_tokens, after rounding; finite float8 for the
  // rest), so a hostile request is refused here, naming the row and field,
  // and never reaches the database as raw SQL error text.
  const auto storable = [](const std::string& s) {
    return s.find('\0') == std::string::npos && utf8::IsValid(s);
  };
  if (req.name().empty()) return absl::InvalidArgumentError("name: must not be empty");
  if (req.name().size() > 200 || !storable(req.name())) {
    return absl::InvalidArgumentError(
        "name: must be at most 200 bytes of UTF-8 text without NUL characters");
  }
  if (req.results_size() == 0) return absl::InvalidArgumentError("results: must not be empty");
  if (req.results_size() > kMaxRunsPerSweep) {
    return absl::InvalidArgumentError("results: more than " + std::to_string(kMaxRunsPerSweep));
  }
  const auto g = [](double v) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g", v);
    return std::string(buf);
  };
  // Largest loss accepted (nats per token; ln(vocab) is about 10 to 20).
  constexpr double kMaxLoss = 1e6;
  // Largest FLOPs accepted: 6 x kMaxParams x kMaxTokens is 6e28.
  constexpr double kMaxFlops = 1e30;
  std::vector<std::string> families;
  for (int i = 0; i < req.results_size(); ++i) {
    const auto& r = req.results(i);
    const std::string at = "results[" + std::to_string(i) + "].";
    const auto positive = [](double v) { return std::isfinite(v) && v > 0; };
    if (r.family().empty() || r.family().size() > 64 ||
        r.family().find_first_not_of("abcdefghijklmnopqrstuvwxyz0123456789_-.") !=
            std::string::npos) {
      const std::string shown = storable(r.family()) && r.family().size() <= 64
                                    ? r.family()
                                    : "(" + std::to_string(r.family().size()) + " bytes)";
      return absl::InvalidArgumentError(
          at + "family: must be 1-64 characters of [a-z0-9_-.], got '" + shown + "'");
    }
    if (std::find(families.begin(), families.end(), r.family()) == families.end()) {
      if (static_cast<int>(families.size()) == store::kMaxFamiliesPerSweep) {
        return absl::InvalidArgumentError(at + "family: '" + r.family() + "' would be family " +
                                          std::to_string(store::kMaxFamiliesPerSweep + 1) +
                                          " of the import; a sweep holds at most " +
                                          std::to_string(store::kMaxFamiliesPerSweep) +
                                          " families");
      }
      families.push_back(r.family());
    }
    if (!positive(r.params())) return absl::InvalidArgumentError(at + "params: must be positive");
    if (r.params() < 1 || r.params() > kMaxParams) {
      return absl::InvalidArgumentError(at + "params: must be in [1, " + g(kMaxParams) + "], got " +
                                        g(r.params()));
    }
    if (!positive(r.tokens())) return absl::InvalidArgumentError(at + "tokens: must be positive");
    if (r.tokens() < 1 || r.tokens() > kMaxTokens) {
      return absl::InvalidArgumentError(at + "tokens: must be in [1, " + g(kMaxTokens) + "], got " +
                                        g(r.tokens()));
    }
    if (!positive(r.final_loss()))
      return absl::InvalidArgumentError(at + "final_loss: must be positive");
    if (r.final_loss() > kMaxLoss) {
      return absl::InvalidArgumentError(at + "final_loss: must be at most " + g(kMaxLoss) +
                                        ", got " + g(r.final_loss()));
    }
    if (!std::isfinite(r.flops()) || r.flops() < 0) {
      return absl::InvalidArgumentError(at + "flops: must not be negative (0 = 6ND)");
    }
    if (r.flops() > kMaxFlops) {
      return absl::InvalidArgumentError(at + "flops: must be at most " + g(kMaxFlops) + ", got " +
                                        g(r.flops()));
    }
    if (!std::isfinite(r.unique_tokens()) || r.unique_tokens() < 0 ||
        r.unique_tokens() > r.tokens() || (r.unique_tokens() > 0 && r.unique_tokens() < 1)) {
      return absl::InvalidArgumentError(at +
                                        "unique_tokens: must be 0 (all fresh) or in [1, tokens]");
    }
    // A budget is an IsoFLOP compute budget, in FLOPs like flops; 0 = none.
    if (!std::isfinite(r.budget()) || r.budget() < 0 || r.budget() > kMaxFlops) {
      return absl::InvalidArgumentError(at +
                                        "budget: must be 0 (none) or a compute budget in (0, " +
                                        g(kMaxFlops) + "] FLOPs, got " + g(r.budget()));
    }
    if (r.seed() < 0) {
      return absl::InvalidArgumentError(at + "seed: must not be negative (0 = not given), got " +
                                        std::to_string(r.seed()));
    }
  }
  return absl::OkStatus();
}

void SweepWatch::Remember(const v1::Run& r, int64_t now_ms) {
  seen_[r.id()] = Seen{r.state(), r.tokens_done(), r.attempts(), now_ms};
}

absl::Status SweepWatch::Poll(v1::SweepEvent* event, bool* has_event) {
  *has_event = false;
  event->Clear();
  // The sweep's state first: once it reads ended, every run change before
  // the end is visible to the reads below, so none is left out of the last
  // event.
  auto state = sweeps_->GetSweepState(sweep_id_);
  if (!state.ok()) return state.status();
  int64_t now_ms = 0;
  bool runs_changed = first_;
  if (first_) {
    auto runs = sweeps_->ListRunsForWatch(sweep_id_, kWatchFirstEventRuns, &now_ms);
    if (!runs.ok()) return runs.status();
    for (v1::Run& r : *runs) {
      Remember(r, now_ms);
      *event->add_runs() = std::move(r);
    }
    since_ms_ = now_ms;
  } else {
    auto changes =
        sweeps_->ListRunChangesSince(sweep_id_, since_ms_ - kWatchOverlapMs,
                                     cursor_ ? &*cursor_ : nullptr, kWatchScanPerPoll, &now_ms);
    if (!changes.ok()) return changes.status();
    if (!cursor_) scan_started_ms_ = now_ms;
    std::vector<int64_t> ids;
    backlog_ = false;
    const store::SweepStore::RunChange* done = nullptr;  // the last change looked at
    for (const auto& c : *changes) {
      auto it = seen_.find(c.id);
      // A run never sent is taken to be queued and untouched.
      const Seen before = it != seen_.end() ? it->second : Seen{v1::RUN_STATE_QUEUED, 0, 0, 0};
      if (before.state != c.state || before.tokens_done != c.tokens_done ||
          before.attempts != c.attempts) {
        if (static_cast<int>(ids.size()) == kWatchMaxRunsPerEvent) {
          backlog_ = true;
          break;
        }
        ids.push_back(c.id);
      }
      done = &c;
    }
    // A full batch: more changes may follow it.
    if (static_cast<int>(changes->size()) == kWatchScanPerPoll) backlog_ = true;
    auto runs = sweeps_->ListRunsById(ids);
    if (!runs.ok()) return runs.status();
    runs_changed = !runs->empty();
    for (v1::Run& r : *runs) {
      Remember(r, now_ms);
      *event->add_runs() = std::move(r);
    }
    if (backlog_) {
      // The next poll (at once) goes on after the last change looked at,
      // in the same window.
      if (done != nullptr) cursor_ = *done;
    } else {
      // The whole window was looked at: the next one starts an overlap
      // before this scan began.
      cursor_.reset();
      since_ms_ = scan_started_ms_;
    }
    // What was read before the window's start cannot be read again without
    // changing (its updated_at is at most its read time), so it is compared
    // against "queued and untouched" from then on: still a change.
    const int64_t window_start = since_ms_ - kWatchOverlapMs;
    for (auto it = seen_.begin(); it != seen_.end();) {
      it = it->second.read_ms < window_start ? seen_.erase(it) : std::next(it);
    }
  }
  // The stream ends with the sweep, once no run change is left behind.
  const bool ended = *state != v1::SWEEP_STATE_ACTIVE && !backlog_;
  // The sweep's counts and progress (an aggregate over all its runs: tens
  // of ms for 100,000) when a run changed, or the sweep's state did; while
  // a backlog drains, its events carry runs only, the last one the counts.
  if (first_ || *state != last_state_ || ended || (runs_changed && !backlog_)) {
    auto sweep = sweeps_->GetSweep(sweep_id_);
    if (!sweep.ok()) return sweep.status();
    last_state_ = *state;
    v1::Sweep summary = *sweep;
    summary.clear_spec_yaml();
    summary.clear_spec_json();
    const std::string key = summary.counts().SerializeAsString() + std::to_string(summary.state()) +
                            std::to_string(static_cast<int64_t>(summary.progress() * 1e6));
    if (first_ || key != last_sweep_ || event->runs_size() > 0 || ended) {
      *event->mutable_sweep() = first_ ? *sweep : summary;
      last_sweep_ = key;
    }
  }
  *has_event = event->has_sweep() || event->runs_size() > 0;
  first_ = false;
  if (ended) ended_ = true;
  return absl::OkStatus();
}

}  // namespace ladder
