#include "server/sweep_spec.h"

#include <absl/status/status.h>
#include <yaml-cpp/yaml.h>

#include <cmath>
#include <set>
#include <sstream>

namespace ladder {
namespace {

using model::Family;

// Walks a YAML mapping, reading typed fields and collecting every error with
// the field's path and line.
class Reader {
 public:
  Reader(std::vector<std::string>* errors, std::string path, YAML::Node node)
      : errors_(errors), path_(std::move(path)), node_(node) {}

  bool present(const char* key) const { return node_[key].IsDefined() && !node_[key].IsNull(); }

  Reader child(const char* key) {
    seen_.insert(key);
    YAML::Node n = node_[key];
    if (n.IsDefined() && !n.IsNull() && !n.IsMap()) {
      Error(key, n, "must be a mapping");
      return Reader(errors_, Path(key), YAML::Node(YAML::NodeType::Map));
    }
    return Reader(errors_, Path(key),
                  n.IsDefined() && !n.IsNull() ? n : YAML::Node(YAML::NodeType::Map));
  }

  YAML::Node raw(const char* key) {
    seen_.insert(key);
    return node_[key];
  }

  std::string String(const char* key, const std::string& fallback, bool required = false) {
    seen_.insert(key);
    YAML::Node n = node_[key];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) Missing(key);
      return fallback;
    }
    if (!n.IsScalar()) {
      Error(key, n, "must be a string");
      return fallback;
    }
    return n.Scalar();
  }

  double Number(const char* key, double fallback, bool required = false) {
    seen_.insert(key);
    YAML::Node n = node_[key];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) Missing(key);
      return fallback;
    }
    double v;
    if (!ToNumber(n, &v)) {
      Error(key, n, "must be a number, got '" + Scalar(n) + "'");
      return fallback;
    }
    return v;
  }

  // A positive (or >= min) whole number, written as 4096, 4096.0 or 4.096e3.
  int64_t Integer(const char* key, int64_t fallback, int64_t min, bool required = false) {
    seen_.insert(key);
    YAML::Node n = node_[key];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) Missing(key);
      return fallback;
    }
    double v;
    if (!ToNumber(n, &v) || v != std::floor(v) || std::abs(v) > 9e15) {
      Error(key, n, "must be a whole number, got '" + Scalar(n) + "'");
      return fallback;
    }
    if (v < static_cast<double>(min)) {
      Error(key, n, "must be at least " + std::to_string(min) + ", got " + Scalar(n));
      return fallback;
    }
    return static_cast<int64_t>(v);
  }

  bool Bool(const char* key, bool fallback) {
    seen_.insert(key);
    YAML::Node n = node_[key];
    if (!n.IsDefined() || n.IsNull()) return fallback;
    try {
      return n.as<bool>();
    } catch (const YAML::Exception&) {
      Error(key, n, "must be true or false, got '" + Scalar(n) + "'");
      return fallback;
    }
  }

  // A number or a list of numbers.
  std::vector<double> Numbers(const char* key, bool required = false) {
    seen_.insert(key);
    YAML::Node n = node_[key];
    std::vector<double> out;
    if (!n.IsDefined() || n.IsNull()) {
      if (required) Missing(key);
      return out;
    }
    if (n.IsScalar()) n = YAML::Node(std::vector<YAML::Node>{n});
    if (!n.IsSequence()) {
      Error(key, n, "must be a number or a list of numbers");
      return out;
    }
    for (size_t i = 0; i < n.size(); ++i) {
      double v;
      if (!ToNumber(n[i], &v)) {
        ErrorAt(Path(key) + "[" + std::to_string(i) + "]", n[i],
                "must be a number, got '" + Scalar(n[i]) + "'");
        continue;
      }
      out.push_back(v);
    }
    if (required && out.empty() && n.size() == 0) Error(key, n, "must not be empty");
    return out;
  }

  void Error(const char* key, const YAML::Node& n, const std::string& message) {
    ErrorAt(Path(key), n, message);
  }

  void ErrorAt(const std::string& path, const YAML::Node& n, const std::string& message) {
    std::ostringstream o;
    o << path;
    if (n.IsDefined() && n.Mark().line >= 0) o << " (line " << n.Mark().line + 1 << ")";
    o << ": " << message;
    errors_->push_back(o.str());
  }

  void Missing(const char* key) {
    std::ostringstream o;
    o << Path(key) << ": is required";
    if (node_.Mark().line >= 0 && !path_.empty())
      o << " (in the mapping at line " << node_.Mark().line + 1 << ")";
    errors_->push_back(o.str());
  }

  // Reports keys present in the mapping but never read.
  void RejectUnknown() {
    if (!node_.IsMap()) return;
    for (const auto& kv : node_) {
      const std::string key = kv.first.Scalar();
      if (seen_.count(key) == 0) {
        ErrorAt(Path(key.c_str()), kv.first, "unknown field");
      }
    }
  }

  std::string Path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  const std::string& path() const { return path_; }
  YAML::Node node() const { return node_; }

 private:
  static std::string Scalar(const YAML::Node& n) {
    return n.IsScalar() ? n.Scalar() : "(not a scalar)";
  }

  static bool ToNumber(const YAML::Node& n, double* out) {
    if (!n.IsScalar()) return false;
    const std::string& s = n.Scalar();
    if (s.empty()) return false;
    char* end = nullptr;
    *out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() && std::isfinite(*out);
  }

  std::vector<std::string>* errors_;
  std::string path_;
  YAML::Node node_;
  std::set<std::string> seen_;
};

void RequirePositive(Reader& r, const char* key, const std::vector<double>& values) {
  YAML::Node n = r.raw(key);
  for (size_t i = 0; i < values.size(); ++i) {
    if (!(values[i] > 0)) {
      r.ErrorAt(r.Path(key) + (n.IsSequence() ? "[" + std::to_string(i) + "]" : ""),
                n.IsSequence() ? n[i] : n, "must be positive, got " + std::to_string(values[i]));
    }
  }
}

void ReadLearningRate(Reader& train, LearningRateSpec* lr) {
  YAML::Node n = train.raw("learning_rate");
  if (!n.IsDefined() || n.IsNull()) return;
  if (n.IsScalar()) {  // a bare number: constant rate
    lr->rule = model::LrRule::kConstant;
    lr->scale = train.Number("learning_rate", 0);
    if (!(lr->scale > 0)) train.Error("learning_rate", n, "must be positive");
    return;
  }
  Reader r = train.child("learning_rate");
  const std::string rule = r.String("rule", "kaplan");
  if (rule == "kaplan") {
    lr->rule = model::LrRule::kKaplan;
    lr->scale = r.Number("scale", 1.0);
  } else if (rule == "constant") {
    lr->rule = model::LrRule::kConstant;
    lr->scale = r.Number("value", 0, /*required=*/true);
  } else {
    r.Error("rule", r.node()["rule"], "unknown rule '" + rule + "' (expected kaplan or constant)");
  }
  if (!(lr->scale > 0))
    r.Error(rule == "constant" ? "value" : "scale", r.node(), "must be positive");
  YAML::Node fam = r.raw("family_scale");
  if (fam.IsDefined() && !fam.IsNull()) {
    Reader fr = r.child("family_scale");
    if (fam.IsMap()) {
      for (const auto& kv : fam) {
        const std::string name = kv.first.Scalar();
        auto f = model::ParseFamily(name);
        if (!f) {
          fr.ErrorAt(fr.Path(name.c_str()), kv.first, "unknown family '" + name + "'");
          fr.Number(name.c_str(), 1);
          continue;
        }
        const double v = fr.Number(name.c_str(), 1.0);
        if (!(v > 0)) fr.Error(name.c_str(), kv.second, "must be positive");
        lr->family_scale[*f] = v;
      }
    }
    fr.RejectUnknown();
  }
  r.RejectUnknown();
}

}  // namespace

std::string_view SweepKindName(SweepKind kind) {
  switch (kind) {
    case SweepKind::kLadder:
      return "ladder";
    case SweepKind::kIsoflop:
      return "isoflop";
    case SweepKind::kGrid:
      return "grid";
    case SweepKind::kDataConstrained:
      return "data_constrained";
    case SweepKind::kImported:
      return "imported";
  }
  return "unknown";
}

absl::StatusOr<SweepSpec> ParseSweepSpec(const std::string& yaml) {
  YAML::Node root;
  try {
    root = YAML::Load(yaml);
  } catch (const YAML::ParserException& e) {
    std::ostringstream o;
    o << "spec: YAML syntax error at line " << e.mark.line + 1 << ", column " << e.mark.column + 1
      << ": " << e.msg;
    return absl::InvalidArgumentError(o.str());
  }
  if (!root.IsMap()) return absl::InvalidArgumentError("spec: must be a YAML mapping of fields");

  std::vector<std::string> errors;
  SweepSpec spec;
  Reader r(&errors, "", root);

  spec.name = r.String("name", "", /*required=*/true);
  if (r.present("name") && spec.name.empty()) r.Error("name", root["name"], "must not be empty");
  if (spec.name.size() > 200) r.Error("name", root["name"], "must be at most 200 characters");

  const std::string kind = r.String("kind", "", /*required=*/true);
  if (kind == "ladder") {
    spec.kind = SweepKind::kLadder;
  } else if (kind == "isoflop") {
    spec.kind = SweepKind::kIsoflop;
  } else if (kind == "grid") {
    spec.kind = SweepKind::kGrid;
  } else if (kind == "data_constrained") {
    spec.kind = SweepKind::kDataConstrained;
  } else if (!kind.empty()) {
    r.Error("kind", root["kind"],
            "unknown kind '" + kind + "' (expected ladder, isoflop, grid or data_constrained)");
  }

  YAML::Node fams = r.raw("families");
  if (!fams.IsDefined() || fams.IsNull()) {
    r.Missing("families");
  } else {
    if (fams.IsScalar()) fams = YAML::Node(std::vector<YAML::Node>{fams});
    if (!fams.IsSequence() || fams.size() == 0) {
      r.Error("families", fams, "must be a non-empty list of families (transformer, lstm)");
    } else {
      for (size_t i = 0; i < fams.size(); ++i) {
        const std::string path = "families[" + std::to_string(i) + "]";
        auto f = fams[i].IsScalar() ? model::ParseFamily(fams[i].Scalar()) : std::nullopt;
        if (!f) {
          r.ErrorAt(path, fams[i],
                    "unknown family '" + (fams[i].IsScalar() ? fams[i].Scalar() : "?") +
                        "' (expected transformer or lstm)");
        } else if (std::find(spec.families.begin(), spec.families.end(), *f) !=
                   spec.families.end()) {
          r.ErrorAt(path, fams[i], "family '" + fams[i].Scalar() + "' is listed twice");
        } else {
          spec.families.push_back(*f);
        }
      }
    }
  }

  spec.priority = static_cast<int>(r.Integer("priority", 0, -1000000));
  if (spec.priority > 1000000) r.Error("priority", root["priority"], "must be at most 1000000");
  spec.max_attempts = static_cast<int>(r.Integer("max_attempts", 3, 1));
  if (spec.max_attempts > 100) r.Error("max_attempts", root["max_attempts"], "must be at most 100");
  {
    std::vector<double> seeds = r.Numbers("seeds");
    if (!seeds.empty()) {
      spec.seeds.clear();
      for (size_t i = 0; i < seeds.size(); ++i) {
        if (seeds[i] != std::floor(seeds[i]) || seeds[i] < 0) {
          r.ErrorAt("seeds[" + std::to_string(i) + "]", root["seeds"],
                    "must be a whole number >= 0");
        }
        spec.seeds.push_back(static_cast<int64_t>(seeds[i]));
      }
      std::set<int64_t> unique(spec.seeds.begin(), spec.seeds.end());
      if (unique.size() != spec.seeds.size())
        r.Error("seeds", root["seeds"], "has a repeated seed");
    }
  }
  spec.device = r.String("device", "any");
  if (spec.device != "any" && spec.device != "cpu" && spec.device != "cuda") {
    r.Error("device", root["device"], "must be any, cpu or cuda, got '" + spec.device + "'");
  }
  spec.target_compute = r.Number("target_compute", 0);
  if (spec.target_compute < 0)
    r.Error("target_compute", root["target_compute"], "must not be negative");

  {
    Reader d = r.child("data");
    spec.dataset = d.String("dataset", "kjv");
    if (spec.dataset.empty()) d.Error("dataset", d.node()["dataset"], "must not be empty");
    d.RejectUnknown();
  }
  {
    Reader m = r.child("model");
    spec.context = static_cast<int>(m.Integer("context", 64, 1));
    spec.vocab = static_cast<int>(m.Integer("vocab", 256, 2));
    auto& a = spec.architecture;
    a.transformer_aspect =
        static_cast<int>(m.Integer("transformer_aspect", a.transformer_aspect, 1));
    a.head_dim = static_cast<int>(m.Integer("head_dim", a.head_dim, 1));
    a.mlp_ratio = static_cast<int>(m.Integer("mlp_ratio", a.mlp_ratio, 1));
    a.lstm_layers = static_cast<int>(m.Integer("lstm_layers", a.lstm_layers, 1));
    const std::string mlp = m.String("mlp", "gelu");
    if (auto v = model::ParseMlp(mlp)) {
      a.mlp = *v;
    } else {
      m.Error("mlp", m.node()["mlp"], "must be gelu or swiglu, got '" + mlp + "'");
    }
    const std::string pos = m.String("positions", "learned");
    if (auto v = model::ParsePositions(pos)) {
      a.positions = *v;
    } else {
      m.Error("positions", m.node()["positions"], "must be learned or rotary, got '" + pos + "'");
    }
    a.tie_embeddings = m.Bool("tie_embeddings", true);
    m.RejectUnknown();
  }
  {
    Reader t = r.child("train");
    auto& tr = spec.train;
    tr.batch_tokens = t.Integer("batch_tokens", tr.batch_tokens, 1);
    if (tr.batch_tokens % spec.context != 0) {
      t.Error("batch_tokens", t.node()["batch_tokens"],
              "must be a multiple of model.context (" + std::to_string(spec.context) + "), got " +
                  std::to_string(tr.batch_tokens));
    }
    ReadLearningRate(t, &tr.learning_rate);
    tr.warmup_fraction = t.Number("warmup_fraction", tr.warmup_fraction);
    if (tr.warmup_fraction < 0 || tr.warmup_fraction >= 1) {
      t.Error("warmup_fraction", t.node()["warmup_fraction"], "must be in [0, 1)");
    }
    tr.min_lr_ratio = t.Number("min_lr_ratio", tr.min_lr_ratio);
    if (tr.min_lr_ratio < 0 || tr.min_lr_ratio > 1) {
      t.Error("min_lr_ratio", t.node()["min_lr_ratio"], "must be in [0, 1]");
    }
    tr.weight_decay = t.Number("weight_decay", tr.weight_decay);
    if (tr.weight_decay < 0)
      t.Error("weight_decay", t.node()["weight_decay"], "must not be negative");
    tr.grad_clip = t.Number("grad_clip", tr.grad_clip);
    if (tr.grad_clip < 0)
      t.Error("grad_clip", t.node()["grad_clip"], "must not be negative (0 = off)");
    tr.beta1 = t.Number("beta1", tr.beta1);
    tr.beta2 = t.Number("beta2", tr.beta2);
    if (tr.beta1 < 0 || tr.beta1 >= 1) t.Error("beta1", t.node()["beta1"], "must be in [0, 1)");
    if (tr.beta2 < 0 || tr.beta2 >= 1) t.Error("beta2", t.node()["beta2"], "must be in [0, 1)");
    tr.eval_tokens = t.Integer("eval_tokens", tr.eval_tokens, 1);
    tr.eval_interval_tokens = t.Integer("eval_interval_tokens", 0, 0);
    tr.log_interval_steps = static_cast<int>(t.Integer("log_interval_steps", 10, 1));
    t.RejectUnknown();
  }

  // Kind-specific sections: only the one matching `kind` may appear.
  const char* sections[] = {"ladder", "isoflop", "grid", "data_constrained"};
  for (const char* s : sections) {
    if (r.present(s) && kind != s && !kind.empty()) {
      r.Error(s, root[s], std::string("does not belong in a sweep of kind ") + kind);
    }
  }
  if (spec.kind == SweepKind::kLadder && kind == "ladder") {
    if (!r.present("ladder")) r.Missing("ladder");
    Reader l = r.child("ladder");
    auto& s = spec.ladder;
    s.min_params = l.Number("min_params", 0, true);
    s.max_params = l.Number("max_params", 0, true);
    s.steps = static_cast<int>(l.Integer("steps", 0, 2, true));
    s.tokens_per_param = l.Number("tokens_per_param", 20);
    if (l.present("min_params") && !(s.min_params > 0))
      l.Error("min_params", l.node()["min_params"], "must be positive");
    if (l.present("max_params") && !(s.max_params >= s.min_params)) {
      l.Error("max_params", l.node()["max_params"], "must be at least min_params");
    }
    if (!(s.tokens_per_param > 0))
      l.Error("tokens_per_param", l.node()["tokens_per_param"], "must be positive");
    if (s.steps > 1000) l.Error("steps", l.node()["steps"], "must be at most 1000");
    l.RejectUnknown();
  } else if (spec.kind == SweepKind::kIsoflop) {
    if (!r.present("isoflop")) r.Missing("isoflop");
    Reader l = r.child("isoflop");
    auto& s = spec.isoflop;
    s.budgets = l.Numbers("budgets", true);
    RequirePositive(l, "budgets", s.budgets);
    s.params = l.Numbers("params");
    RequirePositive(l, "params", s.params);
    s.sizes = static_cast<int>(l.Integer("sizes", 5, 2));
    s.spread = l.Number("spread", 8);
    if (!(s.spread > 1)) l.Error("spread", l.node()["spread"], "must be greater than 1");
    if (l.present("params") && l.present("sizes")) {
      l.Error("sizes", l.node()["sizes"], "give either sizes (with spread) or params, not both");
    }
    l.RejectUnknown();
  } else if (spec.kind == SweepKind::kGrid) {
    if (!r.present("grid")) r.Missing("grid");
    Reader l = r.child("grid");
    spec.grid.params = l.Numbers("params", true);
    RequirePositive(l, "params", spec.grid.params);
    spec.grid.tokens = l.Numbers("tokens", true);
    RequirePositive(l, "tokens", spec.grid.tokens);
    l.RejectUnknown();
  } else if (spec.kind == SweepKind::kDataConstrained) {
    if (!r.present("data_constrained")) r.Missing("data_constrained");
    Reader l = r.child("data_constrained");
    auto& s = spec.data_constrained;
    s.unique_tokens = l.Number("unique_tokens", 0, true);
    if (l.present("unique_tokens") && !(s.unique_tokens >= 1)) {
      l.Error("unique_tokens", l.node()["unique_tokens"], "must be at least 1");
    }
    s.epochs = l.Numbers("epochs", true);
    RequirePositive(l, "epochs", s.epochs);
    s.params = l.Numbers("params", true);
    RequirePositive(l, "params", s.params);
    l.RejectUnknown();
  }

  YAML::Node sim = r.raw("simulation");
  if (sim.IsDefined() && !sim.IsNull()) {
    if (!sim.IsMap()) {
      r.Error("simulation", sim, "must be a mapping");
    } else {
      // Convert YAML to JSON by value; numbers stay numbers.
      std::function<nlohmann::json(const YAML::Node&)> to_json =
          [&](const YAML::Node& n) -> nlohmann::json {
        if (n.IsMap()) {
          nlohmann::json o = nlohmann::json::object();
          for (const auto& kv : n) o[kv.first.Scalar()] = to_json(kv.second);
          return o;
        }
        if (n.IsSequence()) {
          nlohmann::json a = nlohmann::json::array();
          for (const auto& e : n) a.push_back(to_json(e));
          return a;
        }
        if (n.IsNull()) return nullptr;
        const std::string& s = n.Scalar();
        char* end = nullptr;
        const double v = std::strtod(s.c_str(), &end);
        if (!s.empty() && end == s.c_str() + s.size()) return v;
        if (s == "true") return true;
        if (s == "false") return false;
        return s;
      };
      spec.simulation = to_json(sim);
    }
  }
  r.RejectUnknown();

  if (!errors.empty()) {
    std::string msg;
    for (size_t i = 0; i < errors.size(); ++i) {
      if (i) msg += "; ";
      msg += errors[i];
    }
    return absl::InvalidArgumentError(msg);
  }
  return spec;
}

nlohmann::json SweepSpecToJson(const SweepSpec& s) {
  using nlohmann::json;
  json fams = json::array();
  for (auto f : s.families) fams.push_back(std::string(model::FamilyName(f)));
  json lr = {{"rule", s.train.learning_rate.rule == model::LrRule::kKaplan ? "kaplan" : "constant"},
             {"scale", s.train.learning_rate.scale}};
  json fs = json::object();
  for (auto& [f, v] : s.train.learning_rate.family_scale) fs[std::string(model::FamilyName(f))] = v;
  lr["family_scale"] = fs;
  json j = {
      {"name", s.name},
      {"kind", std::string(SweepKindName(s.kind))},
      {"families", fams},
      {"priority", s.priority},
      {"max_attempts", s.max_attempts},
      {"seeds", s.seeds},
      {"device", s.device},
      {"target_compute", s.target_compute},
      {"data", {{"dataset", s.dataset}}},
      {"model",
       {{"context", s.context},
        {"vocab", s.vocab},
        {"transformer_aspect", s.architecture.transformer_aspect},
        {"head_dim", s.architecture.head_dim},
        {"mlp_ratio", s.architecture.mlp_ratio},
        {"lstm_layers", s.architecture.lstm_layers},
        {"mlp", std::string(model::MlpName(s.architecture.mlp))},
        {"positions", std::string(model::PositionsName(s.architecture.positions))},
        {"tie_embeddings", s.architecture.tie_embeddings}}},
      {"train",
       {{"batch_tokens", s.train.batch_tokens},
        {"learning_rate", lr},
        {"warmup_fraction", s.train.warmup_fraction},
        {"min_lr_ratio", s.train.min_lr_ratio},
        {"weight_decay", s.train.weight_decay},
        {"grad_clip", s.train.grad_clip},
        {"beta1", s.train.beta1},
        {"beta2", s.train.beta2},
        {"eval_tokens", s.train.eval_tokens},
        {"eval_interval_tokens", s.train.eval_interval_tokens},
        {"log_interval_steps", s.train.log_interval_steps}}},
  };
  switch (s.kind) {
    case SweepKind::kLadder:
      j["ladder"] = {{"min_params", s.ladder.min_params},
                     {"max_params", s.ladder.max_params},
                     {"steps", s.ladder.steps},
                     {"tokens_per_param", s.ladder.tokens_per_param}};
      break;
    case SweepKind::kIsoflop:
      j["isoflop"] = {{"budgets", s.isoflop.budgets},
                      {"sizes", s.isoflop.sizes},
                      {"spread", s.isoflop.spread},
                      {"params", s.isoflop.params}};
      break;
    case SweepKind::kGrid:
      j["grid"] = {{"params", s.grid.params}, {"tokens", s.grid.tokens}};
      break;
    case SweepKind::kDataConstrained:
      j["data_constrained"] = {{"unique_tokens", s.data_constrained.unique_tokens},
                               {"epochs", s.data_constrained.epochs},
                               {"params", s.data_constrained.params}};
      break;
    case SweepKind::kImported:
      break;
  }
  if (!s.simulation.is_null()) j["simulation"] = s.simulation;
  return j;
}

}  // namespace ladder
