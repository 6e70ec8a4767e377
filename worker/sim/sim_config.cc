#include "worker/sim/sim_config.h"

#include <absl/status/status.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <sstream>

namespace ladder::sim {
namespace {

using nlohmann::json;

// Reads optional/required fields of one JSON object, keeping the first error.
class Reader {
 public:
  Reader(const json* object, std::string prefix) : object_(object), prefix_(std::move(prefix)) {}

  int64_t Int(const char* name, int64_t fallback, bool required = false) {
    const json* v = Find(name, required);
    if (v == nullptr) return fallback;
    if (v->is_number_integer()) return v->get<int64_t>();
    if (v->is_number_float() && v->get<double>() == std::floor(v->get<double>()) &&
        std::fabs(v->get<double>()) < 9e18) {
      return static_cast<int64_t>(v->get<double>());
    }
    Fail(name, "must be an integer");
    return fallback;
  }
  double Number(const char* name, double fallback) {
    const json* v = Find(name, false);
    if (v == nullptr) return fallback;
    if (!v->is_number()) {
      Fail(name, "must be a number");
      return fallback;
    }
    return v->get<double>();
  }
  std::string String(const char* name, std::string fallback, bool required = false) {
    const json* v = Find(name, required);
    if (v == nullptr) return fallback;
    if (!v->is_string()) {
      Fail(name, "must be a string");
      return fallback;
    }
    return v->get<std::string>();
  }
  bool Bool(const char* name, bool fallback) {
    const json* v = Find(name, false);
    if (v == nullptr) return fallback;
    if (!v->is_boolean()) {
      Fail(name, "must be true or false");
      return fallback;
    }
    return v->get<bool>();
  }
  void Fail(const std::string& name, const std::string& what) {
    if (status_.ok()) status_ = absl::InvalidArgumentError(prefix_ + name + ": " + what);
  }
  absl::Status status() const { return status_; }

 private:
  // Null counts as absent.
  const json* Find(const char* name, bool required) {
    if (object_ != nullptr) {
      const auto it = object_->find(name);
      if (it != object_->end() && !it->is_null()) return &*it;
    }
    if (required) Fail(name, "missing");
    return nullptr;
  }

  const json* object_;
  std::string prefix_;
  absl::Status status_;
};

// The sub-object `name` of `parent`, nullptr when absent or null; an error
// in `status` when present but not an object.
const json* Child(const json& parent, const char* name, absl::Status& status) {
  const auto it = parent.find(name);
  if (it == parent.end() || it->is_null()) return nullptr;
  if (!it->is_object() && status.ok()) {
    status = absl::InvalidArgumentError(std::string(name) + ": must be an object");
    return nullptr;
  }
  return it->is_object() ? &*it : nullptr;
}

bool KnownFault(const std::string& f) {
  return f.empty() || f == "crash" || f == "crash_once" || f == "abort" || f == "hang" ||
         f == "garbage" || f == "diverge" || f == "non_finite" || f == "bad_config";
}

}  // namespace

absl::StatusOr<SimRunConfig> ParseSimRunConfig(const std::string& json_text) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::parse_error& e) {
    return absl::InvalidArgumentError(std::string("config: not JSON: ") + e.what());
  }
  if (!root.is_object()) return absl::InvalidArgumentError("config: not a JSON object");

  absl::Status status;
  const json* model = Child(root, "model", status);
  const json* train = Child(root, "train", status);
  const json* data = Child(root, "data", status);
  const json* simulation = Child(root, "simulation", status);
  if (!status.ok()) return status;
  if (model == nullptr) return absl::InvalidArgumentError("model: missing");
  if (train == nullptr) return absl::InvalidArgumentError("train: missing");

  SimRunConfig c;
  Reader top(&root, "");
  c.run_id = top.Int("run_id", 0);
  c.sweep_id = top.Int("sweep_id", 0);
  c.attempt = top.Int("attempt", 1);
  const std::string family = top.String("family", "", /*required=*/true);
  if (!top.status().ok()) return top.status();
  const auto parsed_family = model::ParseFamily(family);
  if (!parsed_family) return absl::InvalidArgumentError("family: unknown family '" + family + "'");

  Reader m(model, "model.");
  model::ModelShape& s = c.shape;
  s.family = *parsed_family;
  s.n_layer = static_cast<int>(m.Int("n_layer", 0, true));
  s.d_model = static_cast<int>(m.Int("d_model", 0, true));
  s.n_head = static_cast<int>(m.Int("n_head", 0));
  s.d_ff = static_cast<int>(m.Int("d_ff", 0));
  s.context = static_cast<int>(m.Int("context", 0, true));
  s.vocab = static_cast<int>(m.Int("vocab", 256));
  const std::string mlp = m.String("mlp", "gelu");
  const std::string positions = m.String("positions", "learned");
  s.tie_embeddings = m.Bool("tie_embeddings", true);
  if (!m.status().ok()) return m.status();
  if (auto v = model::ParseMlp(mlp)) {
    s.mlp = *v;
  } else {
    return absl::InvalidArgumentError("model.mlp: unknown mlp '" + mlp + "'");
  }
  if (auto v = model::ParsePositions(positions)) {
    s.positions = *v;
  } else {
    return absl::InvalidArgumentError("model.positions: unknown positions '" + positions + "'");
  }
  if (const std::string why = model::ValidateShape(s); !why.empty()) {
    return absl::InvalidArgumentError("model: " + why);
  }

  Reader t(train, "train.");
  c.tokens = t.Int("tokens", 0, true);
  c.batch_tokens = t.Int("batch_tokens", 0, true);
  c.lr = t.Number("lr", c.lr);
  c.min_lr_ratio = t.Number("min_lr_ratio", c.min_lr_ratio);
  c.warmup_fraction = t.Number("warmup_fraction", c.warmup_fraction);
  c.seed = t.Int("seed", 0);
  c.eval_interval_tokens = t.Int("eval_interval_tokens", 0);
  c.log_interval_steps = t.Int("log_interval_steps", 10);
  if (c.tokens <= 0) t.Fail("tokens", "must be positive");
  if (c.batch_tokens <= 0) t.Fail("batch_tokens", "must be positive");
  if (c.log_interval_steps <= 0) t.Fail("log_interval_steps", "must be positive");
  if (c.eval_interval_tokens < 0) t.Fail("eval_interval_tokens", "must not be negative");
  if (!t.status().ok()) return t.status();

  Reader d(data, "data.");
  c.dataset = d.String("dataset", "");
  c.unique_tokens = d.Int("unique_tokens", 0);
  if (c.unique_tokens < 0) d.Fail("unique_tokens", "must not be negative");
  if (!d.status().ok()) return d.status();

  SimulationSpec& sim = c.sim;
  sim.law = DefaultLaw(s.family);
  Reader r(simulation, "simulation.");
  absl::Status law_status;
  const json* law = simulation != nullptr ? Child(*simulation, "law", law_status) : nullptr;
  if (!law_status.ok())
    return absl::InvalidArgumentError("simulation." + std::string(law_status.message()));
  Reader l(law, "simulation.law.");
  sim.law.E = l.Number("E", sim.law.E);
  sim.law.A = l.Number("A", sim.law.A);
  sim.law.alpha = l.Number("alpha", sim.law.alpha);
  sim.law.B = l.Number("B", sim.law.B);
  sim.law.beta = l.Number("beta", sim.law.beta);
  if (!l.status().ok()) return l.status();
  if (sim.law.E < 0 || sim.law.A < 0 || sim.law.B < 0 || sim.law.alpha < 0 || sim.law.beta < 0) {
    return absl::InvalidArgumentError("simulation.law: E, A, alpha, B and beta must be >= 0");
  }
  sim.params = r.String("params", sim.params);
  sim.noise = r.Number("noise", sim.noise);
  sim.seconds = r.Number("seconds", sim.seconds);
  sim.seconds_per_pflop = r.Number("seconds_per_pflop", sim.seconds_per_pflop);
  sim.max_seconds = r.Number("max_seconds", sim.max_seconds);
  sim.fault = r.String("fault", "");
  sim.fault_at = r.Number("fault_at", sim.fault_at);
  sim.checkpoints = static_cast<int>(r.Int("checkpoints", sim.checkpoints));
  sim.max_progress_events = static_cast<int>(r.Int("max_progress_events", sim.max_progress_events));
  if (sim.params != "non_embedding" && sim.params != "total") {
    r.Fail("params", "must be 'non_embedding' or 'total'");
  }
  if (sim.noise < 0 || sim.noise > 0.2) r.Fail("noise", "must be in [0, 0.2]");
  if (sim.seconds_per_pflop < 0) r.Fail("seconds_per_pflop", "must not be negative");
  if (sim.max_seconds < 0) r.Fail("max_seconds", "must not be negative");
  if (!KnownFault(sim.fault)) r.Fail("fault", "unknown fault '" + sim.fault + "'");
  if (sim.fault_at < 0 || sim.fault_at > 1) r.Fail("fault_at", "must be in [0, 1]");
  if (sim.checkpoints < 0) r.Fail("checkpoints", "must not be negative");
  if (sim.max_progress_events < 1) r.Fail("max_progress_events", "must be at least 1");
  if (!r.status().ok()) return r.status();

  // Identity: everything that shapes the curve, nothing attempt-specific.
  std::ostringstream id;
  id.precision(17);
  id << model::DescribeShape(s) << '|' << (s.tie_embeddings ? "tied" : "untied") << '|' << c.tokens
     << '|' << c.batch_tokens << '|' << c.unique_tokens << '|' << c.seed << '|' << c.dataset << '|'
     << sim.law.E << ',' << sim.law.A << ',' << sim.law.alpha << ',' << sim.law.B << ','
     << sim.law.beta << '|' << sim.params << '|' << sim.noise;
  c.identity = Fnv1a(id.str());
  return c;
}

}  // namespace ladder::sim
