#include "server/sweep_planner.h"

#include <absl/status/status.h>

#include <cmath>
#include <cstdio>
#include <sstream>

#include "common/model/architecture_rule.h"
#include "common/protocol/run_config.h"

namespace ladder {
namespace {

using model::Family;
using model::ModelShape;

std::string Sci(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// A run's config without `simulation` and `data.dataset` is under this
// (about 600 bytes: names and numbers of bounded length; the planner test
// checks a transformer's with long numbers). At 4096 the estimate refused
// every sweep of more than 65,536 runs, under kMaxRunsPerSweep.
constexpr size_t kConfigOverheadBytes = 2048;

// One factor of the sweep's size, for the error naming the largest.
struct Factor {
  std::string field;
  double count;
};

// The number of runs, from the spec's counts, or the error naming the field.
absl::StatusOr<int64_t> CountRuns(const SweepSpec& spec) {
  std::vector<Factor> f;
  switch (spec.kind) {
    case SweepKind::kLadder:
      f.push_back({"ladder.steps", static_cast<double>(spec.ladder.steps)});
      break;
    case SweepKind::kIsoflop:
      f.push_back({"isoflop.budgets", static_cast<double>(spec.isoflop.budgets.size())});
      if (spec.isoflop.params.empty()) {
        f.push_back({"isoflop.sizes", static_cast<double>(spec.isoflop.sizes)});
      } else {
        f.push_back({"isoflop.params", static_cast<double>(spec.isoflop.params.size())});
      }
      break;
    case SweepKind::kGrid:
      f.push_back({"grid.params", static_cast<double>(spec.grid.params.size())});
      f.push_back({"grid.tokens", static_cast<double>(spec.grid.tokens.size())});
      break;
    case SweepKind::kDataConstrained:
      f.push_back(
          {"data_constrained.params", static_cast<double>(spec.data_constrained.params.size())});
      f.push_back(
          {"data_constrained.epochs", static_cast<double>(spec.data_constrained.epochs.size())});
      break;
    case SweepKind::kImported:
      return absl::InvalidArgumentError("kind: an imported sweep has no plan");
  }
  f.push_back({"families", static_cast<double>(spec.families.size())});
  f.push_back({"seeds", static_cast<double>(spec.seeds.size())});
  double total = 1;  // in double: 1e9 x 1e9 must not wrap
  const Factor* largest = &f[0];
  std::string product;
  for (const Factor& x : f) {
    total *= x.count;
    if (x.count > largest->count) largest = &x;
    product += (product.empty() ? "" : " x ") + Sci(x.count) + " " + x.field;
  }
  if (total > kMaxRunsPerSweep) {
    return absl::InvalidArgumentError(largest->field + ": the sweep expands into " + Sci(total) +
                                      " runs (" + product + "), more than the limit of " +
                                      std::to_string(kMaxRunsPerSweep));
  }
  // Each run carries `simulation` and the dataset name in its config.
  const size_t simulation = spec.simulation.is_null() ? 0 : spec.simulation.dump().size();
  const size_t dataset = nlohmann::json(spec.dataset).dump().size();
  const size_t per_run = simulation + dataset + kConfigOverheadBytes;
  if (per_run > kMaxRunConfigBytes) {
    const std::string field = simulation >= dataset ? "simulation" : "data.dataset";
    return absl::InvalidArgumentError(field + ": " + std::to_string(std::max(simulation, dataset)) +
                                      " bytes as JSON, too large for a run's config (at most " +
                                      std::to_string(kMaxRunConfigBytes) +
                                      " bytes in all; workers receive it in their lease)");
  }
  if (total * static_cast<double>(per_run) > static_cast<double>(kMaxSweepConfigBytes)) {
    return absl::InvalidArgumentError("simulation: " + std::to_string(simulation) +
                                      " bytes copied into each of " + Sci(total) +
                                      " runs' configs, more than the limit of " +
                                      std::to_string(kMaxSweepConfigBytes) + " bytes for a sweep");
  }
  return static_cast<int64_t>(total);
}

// One (size, tokens) cell before families and seeds are applied.
struct Cell {
  std::string field;  // the spec field this cell came from, for errors
  double target_params = 0;
  double tokens = 0;  // requested D (0: derived from budget)
  double budget = 0;  // isoflop C
  double unique_tokens = 0;
};

class Planner {
 public:
  explicit Planner(const SweepSpec& spec) : spec_(spec) {}

  absl::StatusOr<std::vector<PlannedRun>> Plan() {
    // Sizes first: nothing is built for a sweep over the limits.
    absl::StatusOr<int64_t> total = CountRuns(spec_);
    if (!total.ok()) return total.status();
    std::vector<Cell> cells = Cells();
    std::vector<PlannedRun> runs;
    runs.reserve(static_cast<size_t>(*total));
    for (const Cell& cell : cells) {
      for (Family f : spec_.families) {
        for (int64_t seed : spec_.seeds) {
          PlannedRun run;
          if (!Fill(cell, f, seed, &run)) continue;
          run.ordinal = static_cast<int>(runs.size());
          // Configs differ only in numbers of bounded length: the first of
          // each family stands for the rest.
          if (runs.size() < spec_.families.size()) CheckConfigSize(run);
          runs.push_back(std::move(run));
        }
      }
    }
    CheckDistinctShapes(cells);
    if (!errors_.empty()) {
      std::string msg;
      for (size_t i = 0; i < errors_.size() && i < 10; ++i) {
        if (i) msg += "; ";
        msg += errors_[i];
      }
      if (errors_.size() > 10) msg += "; and " + std::to_string(errors_.size() - 10) + " more";
      return absl::InvalidArgumentError(msg);
    }
    return runs;
  }

 private:
  std::vector<Cell> Cells() {
    std::vector<Cell> cells;
    switch (spec_.kind) {
      case SweepKind::kLadder: {
        const auto& l = spec_.ladder;
        for (int i = 0; i < l.steps; ++i) {
          Cell c;
          c.field = "ladder";
          c.target_params = l.min_params * std::pow(l.max_params / l.min_params,
                                                    static_cast<double>(i) / (l.steps - 1));
          c.tokens = l.tokens_per_param * c.target_params;
          cells.push_back(c);
        }
        break;
      }
      case SweepKind::kIsoflop: {
        const auto& s = spec_.isoflop;
        for (size_t b = 0; b < s.budgets.size(); ++b) {
          std::vector<double> sizes = s.params;
          if (sizes.empty()) {
            const double center = std::sqrt(s.budgets[b] / (6.0 * 20.0));
            for (int i = 0; i < s.sizes; ++i) {
              const double t = static_cast<double>(i) / (s.sizes - 1) - 0.5;
              sizes.push_back(center * std::pow(s.spread, t));
            }
          }
          for (double n : sizes) {
            Cell c;
            c.field = "isoflop.budgets[" + std::to_string(b) + "]";
            c.target_params = n;
            c.budget = s.budgets[b];
            cells.push_back(c);
          }
        }
        break;
      }
      case SweepKind::kGrid:
        for (double n : spec_.grid.params) {
          for (double d : spec_.grid.tokens) {
            Cell c;
            c.field = "grid";
            c.target_params = n;
            c.tokens = d;
            cells.push_back(c);
          }
        }
        break;
      case SweepKind::kDataConstrained: {
        const auto& s = spec_.data_constrained;
        for (double n : s.params) {
          for (double e : s.epochs) {
            Cell c;
            c.field = "data_constrained";
            c.target_params = n;
            c.tokens = e * s.unique_tokens;
            c.unique_tokens = s.unique_tokens;
            cells.push_back(c);
          }
        }
        break;
      }
      case SweepKind::kImported:
        break;
    }
    return cells;
  }

  bool Fill(const Cell& cell, Family f, int64_t seed, PlannedRun* run) {
    const std::string fam(model::FamilyName(f));
    // A derived size (isoflop: from the budget) may be out of range even
    // when every field is in range; checked before any shape is made of it.
    if (!(cell.target_params <= kMaxParams)) {
      errors_.push_back(cell.field + ": a " + fam + " of " + Sci(cell.target_params) +
                        " params, more than the limit of " + Sci(kMaxParams));
      return false;
    }
    ModelShape shape = model::ShapeForParams(f, cell.target_params, spec_.context, spec_.vocab,
                                             spec_.architecture);
    if (std::string err = model::ValidateShape(shape); !err.empty()) {
      errors_.push_back(cell.field + ": " + fam + " of " + Sci(cell.target_params) +
                        " params: " + err);
      return false;
    }
    const model::ParamCount params = model::CountParams(shape);
    const double got = static_cast<double>(params.non_embedding);
    if (std::abs(std::log(got / cell.target_params)) > std::log(2.0)) {
      errors_.push_back(
          cell.field + ": a " + fam + " of " + Sci(cell.target_params) +
          " non-embedding params is outside the architecture rule's reach (nearest shape " +
          model::DescribeShape(shape) + " has " + Sci(got) + ")");
      return false;
    }
    const model::FlopsPerToken fpt = model::ExactFlopsPerToken(shape);
    double tokens = cell.tokens;
    if (cell.budget > 0) tokens = cell.budget / fpt.training;
    const int64_t batch = spec_.train.batch_tokens;
    if (tokens < batch) {
      errors_.push_back(
          cell.field + ": " + fam + " " + model::DescribeShape(shape) + " would train on " +
          Sci(tokens) +
          " tokens, less than one batch (train.batch_tokens = " + std::to_string(batch) + ")");
      return false;
    }
    if (!(tokens <= kMaxTokens)) {  // before the cast to int64
      errors_.push_back(cell.field + ": " + fam + " " + model::DescribeShape(shape) +
                        " would train on " + Sci(tokens) + " tokens, more than the limit of " +
                        Sci(kMaxTokens));
      return false;
    }
    if (const double memory = ApproxMemoryBytes(shape, batch); !(memory <= kMaxRunMemoryBytes)) {
      errors_.push_back(cell.field + ": " + fam + " " + model::DescribeShape(shape) +
                        " with train.batch_tokens = " + std::to_string(batch) + " needs about " +
                        Sci(memory) + " bytes to train, more than any device");
      return false;
    }
    const int64_t steps = static_cast<int64_t>(std::ceil(tokens / batch - 1e-9));
    run->family = f;
    run->shape = shape;
    run->seed = seed;
    run->target_params = cell.target_params;
    run->budget = cell.budget;
    run->tokens = steps * batch;
    run->unique_tokens = static_cast<int64_t>(std::llround(cell.unique_tokens));
    run->params = params;
    run->flops = fpt.training * static_cast<double>(run->tokens);
    run->flops_6nd = 6.0 * got * static_cast<double>(run->tokens);
    run->memory_bytes = model::EstimateTrainingMemoryBytes(shape, batch, 4);
    const auto& lr = spec_.train.learning_rate;
    double scale = lr.scale;
    if (auto it = lr.family_scale.find(f); it != lr.family_scale.end()) scale *= it->second;
    run->learning_rate = model::PeakLearningRate(lr.rule, scale, params.non_embedding);
    if (!std::isfinite(run->learning_rate) || !(run->learning_rate > 0)) {
      errors_.push_back("train.learning_rate: gives " + Sci(run->learning_rate) + " for " + fam +
                        " " + model::DescribeShape(shape));
      return false;
    }
    run->config = Config(*run);
    return true;
  }

  // The run's configuration, without the attempt's identity (stamped when
  // an attempt is leased). Written by the protocol's one writer.
  nlohmann::json Config(const PlannedRun& r) const {
    const auto& t = spec_.train;
    protocol::RunConfig c;
    c.shape = r.shape;
    c.train.tokens = r.tokens;
    c.train.batch_tokens = t.batch_tokens;
    c.train.lr = r.learning_rate;
    c.train.min_lr_ratio = t.min_lr_ratio;
    c.train.warmup_fraction = t.warmup_fraction;
    c.train.weight_decay = t.weight_decay;
    c.train.grad_clip = t.grad_clip;
    c.train.beta1 = t.beta1;
    c.train.beta2 = t.beta2;
    c.train.seed = static_cast<uint64_t>(r.seed);
    c.train.eval_tokens = t.eval_tokens;
    c.train.eval_interval_tokens = t.eval_interval_tokens;
    c.train.log_interval_steps = t.log_interval_steps;
    c.data.dataset = spec_.dataset;
    if (r.unique_tokens > 0) c.data.unique_tokens = r.unique_tokens;
    c.plan = protocol::Plan{r.target_params, r.budget, r.flops, r.flops_6nd};
    c.simulation = spec_.simulation;
    return protocol::ToJson(c);
  }

  // model::EstimateTrainingMemoryBytes in double: its int64 arithmetic
  // must only see shapes and batches whose estimate is far from overflow.
  static double ApproxMemoryBytes(const ModelShape& s, int64_t batch_tokens) {
    const double d = s.d_model, V = s.vocab, T = s.context, L = s.n_layer, h = s.n_head;
    const double state =
        16.0 * (2 * V * d + T * d + L * (4 * d * d + 2 * d * (s.d_ff + d) + 8 * d));
    const double readout = 2.0 * static_cast<double>(batch_tokens) * V * 4;
    const double per_token = 8 * d + L * (34 * d + 5 * h * T) * 4;
    return state + readout + static_cast<double>(batch_tokens) * per_token;
  }

  void CheckConfigSize(const PlannedRun& run) {
    const size_t bytes = run.config.dump().size();
    if (bytes <= kMaxRunConfigBytes) return;
    errors_.push_back(std::string(spec_.simulation.is_null() ? "data.dataset" : "simulation") +
                      ": makes a run's config " + std::to_string(bytes) +
                      " bytes, more than the limit of " + std::to_string(kMaxRunConfigBytes));
  }

  // Two different sizes of one family must not collapse onto one shape (the
  // ladder would train the same model twice and call it two sizes).
  void CheckDistinctShapes(const std::vector<Cell>& cells) {
    for (Family f : spec_.families) {
      for (size_t i = 1; i < cells.size(); ++i) {
        const Cell& a = cells[i - 1];
        const Cell& b = cells[i];
        if (a.target_params == b.target_params || a.budget != b.budget) continue;
        if (spec_.kind == SweepKind::kGrid || spec_.kind == SweepKind::kDataConstrained) continue;
        if (!(a.target_params <= kMaxParams && b.target_params <= kMaxParams))
          continue;  // Fill said
        ModelShape sa = model::ShapeForParams(f, a.target_params, spec_.context, spec_.vocab,
                                              spec_.architecture);
        ModelShape sb = model::ShapeForParams(f, b.target_params, spec_.context, spec_.vocab,
                                              spec_.architecture);
        if (sa == sb) {
          errors_.push_back(b.field + ": sizes " + Sci(a.target_params) + " and " +
                            Sci(b.target_params) + " give the same " +
                            std::string(model::FamilyName(f)) + " shape (" +
                            model::DescribeShape(sa) + "); use fewer sizes or a wider range");
        }
      }
    }
  }

  const SweepSpec& spec_;
  std::vector<std::string> errors_;
};

}  // namespace

absl::StatusOr<int64_t> CountPlannedRuns(const SweepSpec& spec) { return CountRuns(spec); }

absl::StatusOr<std::vector<PlannedRun>> PlanSweep(const SweepSpec& spec) {
  return Planner(spec).Plan();
}

}  // namespace ladder
