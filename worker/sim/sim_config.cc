#include "worker/sim/sim_config.h"

#include <absl/status/status.h>

#include <sstream>
#include <utility>

#include "common/protocol/run_config.h"

namespace ladder::sim {
namespace {

using nlohmann::json;
using protocol::FieldReader;

bool KnownFault(const std::string& f) {
  return f.empty() || f == "crash" || f == "crash_once" || f == "abort" || f == "hang" ||
         f == "garbage" || f == "diverge" || f == "non_finite" || f == "bad_config";
}

// `simulation.law`: the family's default law with any coefficient overridden.
void ReadLaw(FieldReader& block, model::Family family, LawParams* law, std::string* error) {
  *law = DefaultLaw(family);
  const json* section = block.Raw("law");
  if (section != nullptr && !section->is_object()) {
    block.Fail("law", "must be an object", *section);
    return;
  }
  FieldReader l(section, "simulation.law.", error);
  for (const auto& [key, value] : {std::pair<const char*, double*>{"E", &law->E},
                                   {"A", &law->A},
                                   {"alpha", &law->alpha},
                                   {"B", &law->B},
                                   {"beta", &law->beta}}) {
    l.Number(key, value);
    if (*value < 0) l.Fail(key, "must be >= 0", *value);
  }
}

// Semantic checks of the block that JSON types cannot express.
void CheckSimulationSpec(const SimulationSpec& sim, FieldReader& r) {
  if (sim.params != "non_embedding" && sim.params != "total") {
    r.Fail("params", "must be \"non_embedding\" or \"total\"", sim.params);
  }
  if (sim.noise < 0 || sim.noise > 0.2) r.Fail("noise", "must be in [0, 0.2]", sim.noise);
  if (sim.seconds_per_pflop < 0) r.Fail("seconds_per_pflop", "must be >= 0", sim.seconds_per_pflop);
  if (sim.max_seconds < 0) r.Fail("max_seconds", "must be >= 0", sim.max_seconds);
  if (!KnownFault(sim.fault)) r.Fail("fault", "is not a known fault", sim.fault);
  if (sim.fault_at < 0 || sim.fault_at > 1) r.Fail("fault_at", "must be in [0, 1]", sim.fault_at);
  if (sim.checkpoints < 0) r.Fail("checkpoints", "must be >= 0", sim.checkpoints);
  if (sim.max_progress_events < 1) {
    r.Fail("max_progress_events", "must be at least 1", sim.max_progress_events);
  }
  if (sim.corpus_tokens < 0) r.Fail("corpus_tokens", "must be >= 0", sim.corpus_tokens);
}

// Everything that shapes the curve, nothing attempt-specific.
uint64_t Identity(const SimRunConfig& c) {
  const model::ModelShape& s = c.shape;
  const SimulationSpec& sim = c.sim;
  std::ostringstream id;
  id.precision(17);
  id << model::DescribeShape(s) << '|' << (s.tie_embeddings ? "tied" : "untied") << '|' << c.tokens
     << '|' << c.batch_tokens << '|' << c.unique_tokens << '|' << c.seed << '|' << c.dataset << '|'
     << sim.law.E << ',' << sim.law.A << ',' << sim.law.alpha << ',' << sim.law.B << ','
     << sim.law.beta << '|' << sim.params << '|' << sim.noise;
  // Only a declared corpus shapes the curve; leaving it out keeps the
  // identities (and checkpoints) of configurations from before it existed.
  if (sim.corpus_tokens > 0) id << "|corpus " << sim.corpus_tokens;
  return Fnv1a(id.str());
}

}  // namespace

bool ReadSimulationSpec(const json& simulation, model::Family family, SimulationSpec* spec,
                        std::string* error) {
  if (!simulation.is_null() && !simulation.is_object()) {
    *error = "simulation must be an object";
    return false;
  }
  SimulationSpec sim;
  FieldReader r(&simulation, "simulation.", error);
  ReadLaw(r, family, &sim.law, error);
  r.String("params", &sim.params);
  r.Number("noise", &sim.noise);
  r.Number("seconds", &sim.seconds);
  r.Number("seconds_per_pflop", &sim.seconds_per_pflop);
  r.Number("max_seconds", &sim.max_seconds);
  r.String("fault", &sim.fault);
  r.Number("fault_at", &sim.fault_at);
  r.Int("checkpoints", &sim.checkpoints);
  r.Int("max_progress_events", &sim.max_progress_events);
  r.Int("corpus_tokens", &sim.corpus_tokens);
  CheckSimulationSpec(sim, r);
  if (!r.ok()) return false;
  *spec = std::move(sim);
  return true;
}

absl::StatusOr<SimRunConfig> ParseSimRunConfig(const std::string& json_text) {
  protocol::RunConfig rc;
  std::string error;
  if (!protocol::ParseRunConfig(json_text, &rc, &error)) {
    return absl::InvalidArgumentError(error);
  }
  SimRunConfig c;
  c.run_id = rc.run_id;
  c.sweep_id = rc.sweep_id;
  c.attempt = rc.attempt;
  c.shape = rc.shape;
  c.tokens = rc.train.tokens;
  c.batch_tokens = rc.train.batch_tokens;
  c.lr = rc.train.lr;
  c.min_lr_ratio = rc.train.min_lr_ratio;
  c.warmup_fraction = rc.train.warmup_fraction;
  c.seed = static_cast<int64_t>(rc.train.seed);  // the reader keeps it below 2^63
  c.eval_interval_tokens = rc.train.eval_interval_tokens;
  c.log_interval_steps = rc.train.log_interval_steps;
  c.dataset = rc.data.dataset;
  c.unique_tokens = rc.data.unique_tokens.value_or(0);
  if (!ReadSimulationSpec(rc.simulation, rc.shape.family, &c.sim, &error)) {
    return absl::InvalidArgumentError(error);
  }
  if (c.unique_tokens > 0) {
    c.corpus_tokens = c.unique_tokens;
  } else if (c.sim.corpus_tokens > 0) {
    c.corpus_tokens = c.sim.corpus_tokens;
  }
  c.identity = Identity(c);
  return c;
}

}  // namespace ladder::sim
