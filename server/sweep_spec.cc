#include "server/sweep_spec.h"

#include <absl/status/status.h>
#include <yaml-cpp/anchor.h>
#include <yaml-cpp/eventhandler.h>
#include <yaml-cpp/yaml.h>

#include <algorithm>
#include <cmath>
#include <functional>
#include <limits>
#include <optional>
#include <set>
#include <sstream>
#include <string_view>

#include "common/enums/enums.h"
#include "common/utf8.h"

namespace ladder {
namespace {

using model::Family;

constexpr size_t kMaxErrorsListed = 20;
constexpr size_t kMaxShownBytes = 60;                   // of a value or key quoted in an error
constexpr int64_t kMaxExactInteger = int64_t{1} << 53;  // every whole double up to here

// A string that may be stored and sent: valid UTF-8 without NUL.
bool StorableText(std::string_view s) {
  return s.find('\0') == std::string_view::npos && utf8::InvalidAt(s) == std::string_view::npos;
}

// `s` cut to at most kMaxShownBytes for an error message (at a character
// boundary, so the message stays valid UTF-8), with "..." when cut.
std::string Shown(const std::string& s) {
  if (s.size() <= kMaxShownBytes) return s;
  return std::string(utf8::Prefix(s, kMaxShownBytes)) + "...";
}

// "1e+15" style for limits in messages.
std::string Num(double v) {
  std::ostringstream o;
  o << v;
  return o.str();
}

// The errors found in one file: the first kMaxErrorsListed in full, the rest
// counted (a list of 100,000 bad numbers gives a short message, not a huge one).
class Errors {
 public:
  void Add(std::string message) {
    if (full()) {
      ++unlisted_;
    } else {
      listed_.push_back(std::move(message));
    }
  }
  bool full() const { return listed_.size() >= kMaxErrorsListed; }
  bool empty() const { return listed_.empty(); }
  std::string Join() const {
    std::string msg;
    for (size_t i = 0; i < listed_.size(); ++i) {
      if (i) msg += "; ";
      msg += listed_[i];
    }
    if (unlisted_ > 0) msg += "; and " + std::to_string(unlisted_) + " more";
    return msg;
  }

 private:
  std::vector<std::string> listed_;
  size_t unlisted_ = 0;
};

// Walks a YAML mapping, reading typed fields and collecting every error with
// the field's path and line.
class Reader {
 public:
  Reader(Errors* errors, std::string path, YAML::Node node)
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
    if (!StorableText(n.Scalar())) {
      Error(key, n, "must be UTF-8 text without NUL characters");
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

  // A whole number in [min, max], written as 4096, 4096.0 or 4.096e3. The
  // range is checked before any cast, so 4294967297 cannot wrap into an int.
  int64_t Integer(const char* key, int64_t fallback, int64_t min, int64_t max,
                  bool required = false) {
    seen_.insert(key);
    YAML::Node n = node_[key];
    if (!n.IsDefined() || n.IsNull()) {
      if (required) Missing(key);
      return fallback;
    }
    double v;
    if (!ToNumber(n, &v) || v != std::floor(v)) {
      Error(key, n, "must be a whole number, got '" + Scalar(n) + "'");
      return fallback;
    }
    if (v < static_cast<double>(min)) {
      Error(key, n, "must be at least " + std::to_string(min) + ", got " + Scalar(n));
      return fallback;
    }
    if (v > static_cast<double>(max)) {
      Error(key, n, "must be at most " + std::to_string(max) + ", got " + Scalar(n));
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

  // A positive number or a list of them, each at most `max`. An element in
  // error is named by its index and line and left out.
  std::vector<double> Numbers(const char* key, double max, bool required = false) {
    seen_.insert(key);
    YAML::Node n = node_[key];
    std::vector<double> out;
    if (!n.IsDefined() || n.IsNull()) {
      if (required) Missing(key);
      return out;
    }
    const bool single = n.IsScalar();
    if (!single && !n.IsSequence()) {
      Error(key, n, "must be a number or a list of numbers");
      return out;
    }
    const size_t count = single ? 1 : n.size();
    if (required && count == 0) Error(key, n, "must not be empty");
    for (size_t i = 0; i < count; ++i) {
      const YAML::Node e = single ? n : n[i];
      const std::string path = single ? Path(key) : Path(key) + "[" + std::to_string(i) + "]";
      double v;
      if (!ToNumber(e, &v)) {
        ErrorAt(path, e, "must be a number, got '" + Scalar(e) + "'");
      } else if (!(v > 0)) {
        ErrorAt(path, e, "must be positive, got " + Scalar(e));
      } else if (v > max) {
        ErrorAt(path, e, "must be at most " + Num(max) + ", got " + Scalar(e));
      } else {
        out.push_back(v);
      }
    }
    return out;
  }

  void Error(const char* key, const YAML::Node& n, const std::string& message) {
    ErrorAt(Path(key), n, message);
  }

  void ErrorAt(const std::string& path, const YAML::Node& n, const std::string& message) {
    if (errors_->full()) return errors_->Add("");
    std::ostringstream o;
    o << path;
    if (n.IsDefined() && n.Mark().line >= 0) o << " (line " << n.Mark().line + 1 << ")";
    o << ": " << message;
    errors_->Add(o.str());
  }

  void Missing(const char* key) {
    std::ostringstream o;
    o << Path(key) << ": is required";
    if (node_.Mark().line >= 0 && !path_.empty())
      o << " (in the mapping at line " << node_.Mark().line + 1 << ")";
    errors_->Add(o.str());
  }

  // Reports keys present in the mapping but never read.
  void RejectUnknown() {
    if (!node_.IsMap()) return;
    for (const auto& kv : node_) {
      const std::string key = kv.first.IsScalar() ? kv.first.Scalar() : std::string();
      if (!kv.first.IsScalar()) {
        ErrorAt(path_.empty() ? "spec" : path_, kv.first, "a key must be a plain name");
      } else if (seen_.count(key) == 0) {
        ErrorAt(Path(Shown(key).c_str()), kv.first, "unknown field");
      }
    }
  }

  std::string Path(const char* key) const { return path_.empty() ? key : path_ + "." + key; }
  const std::string& path() const { return path_; }
  YAML::Node node() const { return node_; }

 private:
  static std::string Scalar(const YAML::Node& n) {
    return n.IsScalar() ? Shown(n.Scalar()) : "(not a scalar)";
  }

  static bool ToNumber(const YAML::Node& n, double* out) {
    if (!n.IsScalar()) return false;
    const std::string& s = n.Scalar();
    if (s.empty()) return false;
    char* end = nullptr;
    *out = std::strtod(s.c_str(), &end);
    return end == s.c_str() + s.size() && std::isfinite(*out);
  }

  Errors* errors_;
  std::string path_;
  YAML::Node node_;
  std::set<std::string> seen_;
};

// Learning rates and their factors: positive and at most this (a scale of
// 1e308 times a family factor of 1e308 would be an infinite rate).
constexpr double kMaxLrFactor = 1e6;

void ReadLearningRate(Reader& train, LearningRateSpec* lr) {
  YAML::Node n = train.raw("learning_rate");
  if (!n.IsDefined() || n.IsNull()) return;
  if (n.IsScalar()) {  // a bare number: constant rate
    lr->rule = model::LrRule::kConstant;
    lr->scale = train.Number("learning_rate", 0);
    if (!(lr->scale > 0)) train.Error("learning_rate", n, "must be positive");
    if (lr->scale > kMaxLrFactor)
      train.Error("learning_rate", n, "must be at most " + Num(kMaxLrFactor));
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
    r.Error("rule", r.node()["rule"],
            "unknown rule '" + Shown(rule) + "' (expected kaplan or constant)");
  }
  const char* scale_key = rule == "constant" ? "value" : "scale";
  if (!(lr->scale > 0)) r.Error(scale_key, r.node(), "must be positive");
  if (lr->scale > kMaxLrFactor)
    r.Error(scale_key, r.node(), "must be at most " + Num(kMaxLrFactor));
  YAML::Node fam = r.raw("family_scale");
  if (fam.IsDefined() && !fam.IsNull()) {
    Reader fr = r.child("family_scale");
    if (fam.IsMap()) {
      for (const auto& kv : fam) {
        if (!kv.first.IsScalar()) continue;  // RejectUnknown names it
        const std::string name = kv.first.Scalar();
        auto f = model::ParseFamily(name);
        if (!f) continue;  // RejectUnknown names it
        const double v = fr.Number(name.c_str(), 1.0);
        if (!(v > 0)) fr.Error(name.c_str(), kv.second, "must be positive");
        if (v > kMaxLrFactor)
          fr.Error(name.c_str(), kv.second, "must be at most " + Num(kMaxLrFactor));
        lr->family_scale[*f] = v;
      }
    }
    fr.RejectUnknown();
  }
  r.RejectUnknown();
}

// Looks at the parser's events before any node is built: an anchor or an
// alias is refused (a few hundred bytes of nested aliases expand into
// gigabytes once walked or copied), and so is a second document (YAML::Load
// would silently ignore it). Returns "" or the error.
class HostileYamlScan : public YAML::EventHandler {
 public:
  void OnDocumentStart(const YAML::Mark&) override {}
  void OnDocumentEnd() override {}
  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { Node(mark, anchor); }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t) override {
    Refuse(mark, "YAML aliases (*name) are not accepted in a sweep file; write the value out");
  }
  void OnScalar(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                const std::string&) override {
    Node(mark, anchor);
  }
  void OnSequenceStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value) override {
    Node(mark, anchor);
  }
  void OnSequenceEnd() override {}
  void OnMapStart(const YAML::Mark& mark, const std::string&, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value) override {
    Node(mark, anchor);
  }
  void OnMapEnd() override {}

  const std::string& error() const { return error_; }

 private:
  void Node(const YAML::Mark& mark, YAML::anchor_t anchor) {
    if (anchor != YAML::NullAnchor) {
      Refuse(mark, "YAML anchors (&name) are not accepted in a sweep file; write the value out");
    }
  }
  void Refuse(const YAML::Mark& mark, const std::string& what) {
    if (!error_.empty()) return;
    error_ = "spec (line " + std::to_string(mark.line + 1) + "): " + what;
  }

  std::string error_;
};

// "" when `yaml` has no anchor, alias or second document, else the error.
// Syntax errors throw YAML::ParserException, as YAML::Load does.
std::string ScanForHostileYaml(const std::string& yaml) {
  std::istringstream in(yaml);
  YAML::Parser parser(in);
  HostileYamlScan scan;
  int documents = 0;
  while (scan.error().empty()) {
    if (!parser.HandleNextDocument(scan)) break;
    if (++documents > 1) return "spec: more than one YAML document (one sweep per file)";
  }
  return scan.error();
}

// The `simulation` mapping as JSON, by value: numbers stay numbers. Depth
// is bounded (the walk recurses), strings must be storable.
nlohmann::json SimulationToJson(Reader& r, const YAML::Node& n, int depth) {
  if (depth > kMaxSimulationDepth) {
    r.Error("simulation", n,
            "nests deeper than " + std::to_string(kMaxSimulationDepth) + " levels");
    return nullptr;
  }
  if (n.IsMap()) {
    nlohmann::json o = nlohmann::json::object();
    for (const auto& kv : n) {
      if (!kv.first.IsScalar() || !StorableText(kv.first.Scalar())) {
        r.Error("simulation", kv.first, "keys must be UTF-8 names without NUL characters");
        continue;
      }
      o[kv.first.Scalar()] = SimulationToJson(r, kv.second, depth + 1);
    }
    return o;
  }
  if (n.IsSequence()) {
    nlohmann::json a = nlohmann::json::array();
    for (const auto& e : n) a.push_back(SimulationToJson(r, e, depth + 1));
    return a;
  }
  if (!n.IsScalar()) return nullptr;  // null (or undefined)
  const std::string& s = n.Scalar();
  char* end = nullptr;
  const double v = std::strtod(s.c_str(), &end);
  if (!s.empty() && end == s.c_str() + s.size() && std::isfinite(v)) return v;
  if (s == "true") return true;
  if (s == "false") return false;
  if (!StorableText(s)) {
    r.Error("simulation", n, "strings must be UTF-8 text without NUL characters");
    return nullptr;
  }
  return s;
}

// Parses after the input checks; may throw what yaml-cpp throws.
absl::StatusOr<SweepSpec> Parse(const std::string& yaml);

}  // namespace

absl::StatusOr<SweepSpec> ParseSweepSpec(const std::string& yaml) {
  if (yaml.size() > kMaxSweepFileBytes) {
    return absl::InvalidArgumentError("spec: " + std::to_string(yaml.size()) +
                                      " bytes, more than the limit of " +
                                      std::to_string(kMaxSweepFileBytes));
  }
  if (const size_t at = utf8::InvalidAt(yaml); at != std::string::npos) {
    const int64_t line = std::count(yaml.begin(), yaml.begin() + static_cast<long>(at), '\n') + 1;
    return absl::InvalidArgumentError("spec (line " + std::to_string(line) +
                                      "): not valid UTF-8 (byte " + std::to_string(at) + ")");
  }
  if (const size_t at = yaml.find('\0'); at != std::string::npos) {
    const int64_t line = std::count(yaml.begin(), yaml.begin() + static_cast<long>(at), '\n') + 1;
    return absl::InvalidArgumentError("spec (line " + std::to_string(line) +
                                      "): a NUL character (byte " + std::to_string(at) + ")");
  }
  // yaml-cpp reports syntax errors by exception; anything else it might
  // throw on strange input is still the file's fault, never the caller's.
  try {
    if (std::string error = ScanForHostileYaml(yaml); !error.empty()) {
      return absl::InvalidArgumentError(error);
    }
    return Parse(yaml);
  } catch (const YAML::ParserException& e) {
    std::ostringstream o;
    o << "spec: YAML syntax error at line " << e.mark.line + 1 << ", column " << e.mark.column + 1
      << ": " << e.msg;
    return absl::InvalidArgumentError(o.str());
  } catch (const std::exception& e) {
    return absl::InvalidArgumentError(std::string("spec: unreadable YAML: ") + e.what());
  }
}

namespace {

// name: required, at most 200 characters, no control characters.
void ReadName(Reader& r, const YAML::Node& root, SweepSpec* spec) {
  spec->name = r.String("name", "", /*required=*/true);
  if (r.present("name") && spec->name.empty()) r.Error("name", root["name"], "must not be empty");
  if (spec->name.size() > 200) r.Error("name", root["name"], "must be at most 200 characters");
  if (std::any_of(spec->name.begin(), spec->name.end(),
                  [](char c) { return static_cast<unsigned char>(c) < 0x20 || c == 0x7f; })) {
    r.Error("name", root["name"], "must not contain control characters (newlines, tabs, ...)");
  }
}

// kind: sets spec->kind; returns the kind as written (empty when missing).
std::string ReadKind(Reader& r, const YAML::Node& root, SweepSpec* spec) {
  const std::string kind = r.String("kind", "", /*required=*/true);
  // Every kind in the enum's name table but `imported`, which only
  // `ladder import` makes.
  std::vector<std::string_view> names;
  for (SweepKind k : enums::Values<SweepKind>()) {
    if (k != SweepKind::kImported) names.push_back(enums::Name(k));
  }
  const std::optional<SweepKind> parsed = enums::Parse<SweepKind>(kind);
  if (parsed && *parsed != SweepKind::kImported) {
    spec->kind = *parsed;
  } else if (!kind.empty()) {
    std::string expected;
    for (size_t i = 0; i < names.size(); ++i) {
      expected += (i == 0 ? "" : i + 1 == names.size() ? " or " : ", ") + std::string(names[i]);
    }
    r.Error("kind", root["kind"], "unknown kind '" + Shown(kind) + "' (expected " + expected + ")");
  }
  return kind;
}

// families: one family or a non-empty list of distinct ones.
void ReadFamilies(Reader& r, SweepSpec* spec) {
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
                    "unknown family '" + (fams[i].IsScalar() ? Shown(fams[i].Scalar()) : "?") +
                        "' (expected transformer or lstm)");
        } else if (std::find(spec->families.begin(), spec->families.end(), *f) !=
                   spec->families.end()) {
          r.ErrorAt(path, fams[i], "family '" + fams[i].Scalar() + "' is listed twice");
        } else {
          spec->families.push_back(*f);
        }
      }
    }
  }
}

// seeds: a whole number or a list of distinct ones, each in [0, 2^53]: read
// through a double, so larger ones would not be exact (and 1e19 does not fit
// an int64 at all).
void ReadSeeds(Reader& r, SweepSpec* spec) {
  YAML::Node n = r.raw("seeds");
  if (n.IsDefined() && !n.IsNull()) {
    const bool single = n.IsScalar();
    if (!single && (!n.IsSequence() || n.size() == 0)) {
      r.Error("seeds", n, "must be a whole number or a non-empty list of them");
    } else {
      spec->seeds.clear();
      std::set<int64_t> unique;
      const size_t count = single ? 1 : n.size();
      for (size_t i = 0; i < count; ++i) {
        const YAML::Node e = single ? n : n[i];
        const std::string path = single ? "seeds" : "seeds[" + std::to_string(i) + "]";
        char* end = nullptr;
        const std::string text = e.IsScalar() ? e.Scalar() : "";
        const double v = std::strtod(text.c_str(), &end);
        if (text.empty() || end != text.c_str() + text.size() || !(v >= 0) ||
            v > static_cast<double>(kMaxExactInteger) || v != std::floor(v)) {
          r.ErrorAt(path, e,
                    "must be a whole number in [0, " + std::to_string(kMaxExactInteger) +
                        "], got '" + (e.IsScalar() ? Shown(text) : "(not a scalar)") + "'");
          continue;
        }
        const int64_t seed = static_cast<int64_t>(v);
        if (!unique.insert(seed).second) {
          r.ErrorAt(path, e, "repeats seed " + std::to_string(seed));
          continue;
        }
        spec->seeds.push_back(seed);
      }
    }
  }
}

// data: the dataset's name or path.
void ReadData(Reader& r, SweepSpec* spec) {
  Reader d = r.child("data");
  spec->dataset = d.String("dataset", spec->dataset);
  if (spec->dataset.empty()) d.Error("dataset", d.node()["dataset"], "must not be empty");
  if (spec->dataset.size() > 4096) {
    d.Error("dataset", d.node()["dataset"], "must be at most 4096 bytes (a name or a path)");
  }
  d.RejectUnknown();
}

// model: context, vocabulary and the architecture's knobs.
void ReadModel(Reader& r, SweepSpec* spec) {
  Reader m = r.child("model");
  // Bounds that keep every shape the rule can make (up to kMaxParams)
  // inside int, and its parameter counts inside int64.
  spec->context = static_cast<int>(m.Integer("context", 64, 1, 1 << 20));
  spec->vocab = static_cast<int>(m.Integer("vocab", 256, 2, 1 << 24));
  auto& a = spec->architecture;
  a.transformer_aspect =
      static_cast<int>(m.Integer("transformer_aspect", a.transformer_aspect, 1, 1 << 16));
  a.head_dim = static_cast<int>(m.Integer("head_dim", a.head_dim, 1, 1 << 16));
  a.mlp_ratio = static_cast<int>(m.Integer("mlp_ratio", a.mlp_ratio, 1, 256));
  a.lstm_layers = static_cast<int>(m.Integer("lstm_layers", a.lstm_layers, 1, 1024));
  const std::string mlp = m.String("mlp", "gelu");
  if (auto v = model::ParseMlp(mlp)) {
    a.mlp = *v;
  } else {
    m.Error("mlp", m.node()["mlp"], "must be gelu or swiglu, got '" + Shown(mlp) + "'");
  }
  const std::string pos = m.String("positions", "learned");
  if (auto v = model::ParsePositions(pos)) {
    a.positions = *v;
  } else {
    m.Error("positions", m.node()["positions"],
            "must be learned or rotary, got '" + Shown(pos) + "'");
  }
  a.tie_embeddings = m.Bool("tie_embeddings", true);
  m.RejectUnknown();
}

// train: batch, learning rate and optimizer settings, evaluation cadence.
void ReadTrain(Reader& r, SweepSpec* spec) {
  Reader t = r.child("train");
  auto& tr = spec->train;
  tr.batch_tokens = t.Integer("batch_tokens", tr.batch_tokens, 1, int64_t{1} << 32);
  if (tr.batch_tokens % spec->context != 0) {
    t.Error("batch_tokens", t.node()["batch_tokens"],
            "must be a multiple of model.context (" + std::to_string(spec->context) + "), got " +
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
  const auto max_tokens = static_cast<int64_t>(kMaxTokens);
  tr.eval_tokens = t.Integer("eval_tokens", tr.eval_tokens, 1, max_tokens);
  tr.eval_interval_tokens = t.Integer("eval_interval_tokens", 0, 0, max_tokens);
  tr.log_interval_steps = static_cast<int>(t.Integer("log_interval_steps", 10, 1, 1000000000));
  t.RejectUnknown();
}

void ReadLadder(Reader& r, SweepSpec* spec) {
  if (!r.present("ladder")) r.Missing("ladder");
  Reader l = r.child("ladder");
  auto& s = spec->ladder;
  s.min_params = l.Number("min_params", 0, true);
  s.max_params = l.Number("max_params", 0, true);
  s.steps = static_cast<int>(l.Integer("steps", 0, 2, 1000, true));
  s.tokens_per_param = l.Number("tokens_per_param", 20);
  if (l.present("min_params") && !(s.min_params > 0))
    l.Error("min_params", l.node()["min_params"], "must be positive");
  if (l.present("max_params") && !(s.max_params >= s.min_params)) {
    l.Error("max_params", l.node()["max_params"], "must be at least min_params");
  }
  if (s.max_params > kMaxParams) {
    l.Error("max_params", l.node()["max_params"], "must be at most " + Num(kMaxParams));
  }
  if (!(s.tokens_per_param > 0)) {
    l.Error("tokens_per_param", l.node()["tokens_per_param"], "must be positive");
  } else if (s.tokens_per_param * s.max_params > kMaxTokens) {
    l.Error("tokens_per_param", l.node()["tokens_per_param"],
            "times max_params gives " + Num(s.tokens_per_param * s.max_params) +
                " tokens, more than the limit of " + Num(kMaxTokens));
  }
  l.RejectUnknown();
}

void ReadIsoflop(Reader& r, SweepSpec* spec) {
  if (!r.present("isoflop")) r.Missing("isoflop");
  Reader l = r.child("isoflop");
  auto& s = spec->isoflop;
  s.budgets = l.Numbers("budgets", kMaxBudget, true);
  s.params = l.Numbers("params", kMaxParams);
  // The sweep's size (budgets x sizes x families x seeds) is checked by
  // the planner before it builds anything; this only keeps the int.
  s.sizes = static_cast<int>(l.Integer("sizes", 5, 2, 1000000));
  s.spread = l.Number("spread", 8);
  if (!(s.spread > 1)) l.Error("spread", l.node()["spread"], "must be greater than 1");
  if (s.spread > 1e6) l.Error("spread", l.node()["spread"], "must be at most 1e+06");
  if (l.present("params") && l.present("sizes")) {
    l.Error("sizes", l.node()["sizes"], "give either sizes (with spread) or params, not both");
  }
  l.RejectUnknown();
}

void ReadGrid(Reader& r, SweepSpec* spec) {
  if (!r.present("grid")) r.Missing("grid");
  Reader l = r.child("grid");
  spec->grid.params = l.Numbers("params", kMaxParams, true);
  spec->grid.tokens = l.Numbers("tokens", kMaxTokens, true);
  l.RejectUnknown();
}

void ReadDataConstrained(Reader& r, SweepSpec* spec) {
  if (!r.present("data_constrained")) r.Missing("data_constrained");
  Reader l = r.child("data_constrained");
  auto& s = spec->data_constrained;
  s.unique_tokens = l.Number("unique_tokens", 0, true);
  if (l.present("unique_tokens") && !(s.unique_tokens >= 1)) {
    l.Error("unique_tokens", l.node()["unique_tokens"], "must be at least 1");
  }
  if (s.unique_tokens > kMaxTokens) {
    l.Error("unique_tokens", l.node()["unique_tokens"], "must be at most " + Num(kMaxTokens));
  }
  s.epochs = l.Numbers("epochs", kMaxTokens, true);
  const YAML::Node epochs = l.node()["epochs"];
  for (size_t i = 0; i < s.epochs.size(); ++i) {  // epochs x unique_tokens is a run's D
    if (s.epochs[i] * s.unique_tokens <= kMaxTokens) continue;
    const bool listed = epochs.IsSequence() && epochs.size() == s.epochs.size();
    l.ErrorAt(l.Path("epochs") + (listed ? "[" + std::to_string(i) + "]" : ""),
              listed ? epochs[i] : epochs,
              "times unique_tokens gives " + Num(s.epochs[i] * s.unique_tokens) +
                  " tokens, more than the limit of " + Num(kMaxTokens));
  }
  s.params = l.Numbers("params", kMaxParams, true);
  l.RejectUnknown();
}

// The kind-specific sections: only the one matching `kind` may appear, and
// it must.
void ReadKindSection(Reader& r, const YAML::Node& root, const std::string& kind, SweepSpec* spec) {
  const char* sections[] = {"ladder", "isoflop", "grid", "data_constrained"};
  for (const char* s : sections) {
    if (r.present(s) && kind != s && !kind.empty()) {
      r.Error(s, root[s], std::string("does not belong in a sweep of kind ") + Shown(kind));
    }
  }
  if (spec->kind == SweepKind::kLadder && kind == "ladder") {
    ReadLadder(r, spec);
  } else if (spec->kind == SweepKind::kIsoflop) {
    ReadIsoflop(r, spec);
  } else if (spec->kind == SweepKind::kGrid) {
    ReadGrid(r, spec);
  } else if (spec->kind == SweepKind::kDataConstrained) {
    ReadDataConstrained(r, spec);
  }
}

// fit: the refit options. Read after the families, whose number sets the
// default of shared_e.
void ReadFit(Reader& r, SweepSpec* spec) {
  Reader f = r.child("fit");
  const bool several = spec->families.size() >= 2;
  spec->fit.shared_e = f.Bool("shared_e", several);
  if (spec->fit.shared_e && spec->families.size() == 1) {
    f.Error("shared_e", f.node()["shared_e"],
            "true needs two or more families to share E; the sweep has one (" +
                std::string(model::FamilyName(spec->families[0])) + ")");
  }
  f.RejectUnknown();
}

// simulation: free-form settings for ladder-sim, kept as JSON.
void ReadSimulation(Reader& r, SweepSpec* spec) {
  YAML::Node sim = r.raw("simulation");
  if (sim.IsDefined() && !sim.IsNull()) {
    if (!sim.IsMap()) {
      r.Error("simulation", sim, "must be a mapping");
    } else {
      spec->simulation = SimulationToJson(r, sim, 0);
    }
  }
}

absl::StatusOr<SweepSpec> Parse(const std::string& yaml) {
  YAML::Node root = YAML::Load(yaml);
  if (!root.IsMap()) return absl::InvalidArgumentError("spec: must be a YAML mapping of fields");

  Errors errors;
  SweepSpec spec;
  Reader r(&errors, "", root);
  ReadName(r, root, &spec);
  const std::string kind = ReadKind(r, root, &spec);
  ReadFamilies(r, &spec);
  spec.priority = static_cast<int>(r.Integer("priority", 0, -1000000, 1000000));
  spec.max_attempts = static_cast<int>(r.Integer("max_attempts", 3, 1, 100));
  ReadSeeds(r, &spec);
  spec.device = r.String("device", "any");
  if (spec.device != "any" && spec.device != "cpu" && spec.device != "cuda") {
    r.Error("device", root["device"], "must be any, cpu or cuda, got '" + Shown(spec.device) + "'");
  }
  spec.target_compute = r.Number("target_compute", 0);
  if (spec.target_compute < 0)
    r.Error("target_compute", root["target_compute"], "must not be negative");

  ReadData(r, &spec);
  ReadModel(r, &spec);
  ReadTrain(r, &spec);
  ReadKindSection(r, root, kind, &spec);
  ReadFit(r, &spec);
  ReadSimulation(r, &spec);
  r.RejectUnknown();

  if (!errors.empty()) return absl::InvalidArgumentError(errors.Join());
  return spec;
}

}  // namespace

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
      {"fit", {{"shared_e", s.fit.shared_e}}},
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
