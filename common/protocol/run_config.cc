#include "common/protocol/run_config.h"

#include <cmath>
#include <limits>
#include <sstream>
#include <tuple>
#include <utility>

namespace ladder::protocol {

using nlohmann::json;

// ---------------------------------------------------------------- fields

FieldReader::FieldReader(const json* object, std::string prefix, std::string* error,
                         std::set<std::string>* keys_read)
    : object_(object != nullptr && object->is_object() ? object : nullptr),
      prefix_(std::move(prefix)),
      error_(error),
      keys_read_(keys_read) {}

bool FieldReader::Has(const char* key) const {
  return object_ != nullptr && object_->contains(key) && !object_->at(key).is_null();
}

bool FieldReader::Present(const char* key, bool required) {
  if (keys_read_ != nullptr) keys_read_->insert(prefix_ + key);
  if (!error_->empty()) return false;
  if (Has(key)) return true;
  if (required) *error_ = prefix_ + key + " is required";
  return false;
}

void FieldReader::Int(const char* key, int64_t* out, bool required) {
  if (!Present(key, required)) return;
  const json& v = object_->at(key);
  if (v.is_number_unsigned() &&
      v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
    Fail(key, "is out of range", v);  // read as int64 it would wrap negative
  } else if (v.is_number_integer()) {
    *out = v.get<int64_t>();
  } else if (v.is_number_float() && std::isfinite(v.get<double>()) &&
             v.get<double>() == std::floor(v.get<double>()) && std::fabs(v.get<double>()) < 9e18) {
    *out = static_cast<int64_t>(v.get<double>());
  } else {
    Fail(key, "must be an integer", v);
  }
}

void FieldReader::Int(const char* key, int* out, bool required) {
  int64_t wide = *out;
  Int(key, &wide, required);
  if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
    Fail(key, "is out of range", object_->at(key));
    return;
  }
  *out = static_cast<int>(wide);
}

void FieldReader::Number(const char* key, double* out, bool required) {
  if (!Present(key, required)) return;
  const json& v = object_->at(key);
  if (!v.is_number() || !std::isfinite(v.get<double>())) {
    Fail(key, "must be a finite number", v);
    return;
  }
  *out = v.get<double>();
}

void FieldReader::Bool(const char* key, bool* out) {
  if (!Present(key, false)) return;
  const json& v = object_->at(key);
  if (!v.is_boolean()) {
    Fail(key, "must be true or false", v);
    return;
  }
  *out = v.get<bool>();
}

void FieldReader::String(const char* key, std::string* out, bool required) {
  if (!Present(key, required)) return;
  const json& v = object_->at(key);
  if (!v.is_string()) {
    Fail(key, "must be a string", v);
    return;
  }
  *out = v.get<std::string>();
}

const json* FieldReader::Raw(const char* key) {
  if (keys_read_ != nullptr) keys_read_->insert(prefix_ + key);
  return Has(key) ? &object_->at(key) : nullptr;
}

void FieldReader::Fail(const char* key, const std::string& what, const json& got) {
  if (!error_->empty()) return;
  // Only scalars are shown: dumping a deeply nested value recurses.
  std::string shown = got.is_array()    ? std::string("an array")
                      : got.is_object() ? std::string("an object")
                                        : got.dump(-1, ' ', false, json::error_handler_t::replace);
  if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
  for (char& c : shown) {  // ASCII: the cut above may split a character
    const auto u = static_cast<unsigned char>(c);
    if (u < 0x20 || u >= 0x7f) c = '?';
  }
  *error_ = prefix_ + key + " " + what + " (got " + shown + ")";
}

void FieldReader::Fail(const char* key, const std::string& what) {
  if (error_->empty()) *error_ = prefix_ + key + " " + what;
}

namespace {

template <typename T>
std::string Got(const T& value) {
  std::ostringstream o;
  o << " (got " << value << ")";
  return o.str();
}

// Bounded and ASCII: trainers print the message in their `error` event,
// whose JSON encoder refuses invalid UTF-8 (and a cut may split a character).
std::string Printable(const std::string& message) {
  std::string out;
  for (char c : message.substr(0, 500)) {
    const auto u = static_cast<unsigned char>(c);
    out += (u < 0x20 || u >= 0x7f) ? '?' : c;
  }
  return out;
}

std::string Check(bool ok, const std::string& message) { return ok ? "" : message; }

// Size limits: far beyond any model trained, and small enough that
// parameter counts and FLOPs (common/model/model_counts.h, int64) cannot
// overflow.
std::string CheckShapeLimits(const model::ModelShape& s) {
  for (const auto& [name, value, max] :
       {std::tuple<const char*, int, int>{"n_layer", s.n_layer, 1 << 16},
        {"d_model", s.d_model, 1 << 20},
        {"n_head", s.n_head, 1 << 20},
        {"d_ff", s.d_ff, 1 << 24},
        {"context", s.context, 1 << 20},
        {"vocab", s.vocab, 1 << 24}}) {
    if (value > max) {
      return std::string("model.") + name + " must be at most " + std::to_string(max) + Got(value);
    }
  }
  return "";
}

// Semantic checks of `train` that JSON types cannot express. "" when usable.
std::string ValidateTrain(const TrainSettings& t, const model::ModelShape& shape) {
  const std::string context =
      " must be at least model.context (" + std::to_string(shape.context) + ")";
  for (const std::string& e : {
           Check(t.tokens > 0, "train.tokens must be positive" + Got(t.tokens)),
           Check(t.batch_tokens >= shape.context,
                 "train.batch_tokens" + context + Got(t.batch_tokens)),
           Check(t.lr > 0, "train.lr must be positive" + Got(t.lr)),
           Check(t.min_lr_ratio >= 0 && t.min_lr_ratio <= 1,
                 "train.min_lr_ratio must be in [0, 1]" + Got(t.min_lr_ratio)),
           Check(t.warmup_fraction >= 0 && t.warmup_fraction < 1,
                 "train.warmup_fraction must be in [0, 1)" + Got(t.warmup_fraction)),
           Check(t.weight_decay >= 0, "train.weight_decay must be >= 0" + Got(t.weight_decay)),
           Check(t.grad_clip >= 0, "train.grad_clip must be >= 0" + Got(t.grad_clip)),
           Check(t.beta1 >= 0 && t.beta1 < 1, "train.beta1 must be in [0, 1)" + Got(t.beta1)),
           Check(t.beta2 >= 0 && t.beta2 < 1, "train.beta2 must be in [0, 1)" + Got(t.beta2)),
           Check(t.adam_eps > 0, "train.adam_eps must be positive" + Got(t.adam_eps)),
           Check(t.eval_tokens >= shape.context,
                 "train.eval_tokens" + context + Got(t.eval_tokens)),
           Check(t.eval_interval_tokens >= 0,
                 "train.eval_interval_tokens must be >= 0" + Got(t.eval_interval_tokens)),
           Check(t.log_interval_steps > 0,
                 "train.log_interval_steps must be positive" + Got(t.log_interval_steps)),
           Check(t.micro_batch_tokens == 0 || t.micro_batch_tokens >= shape.context,
                 "train.micro_batch_tokens must be 0 or at least model.context" +
                     Got(t.micro_batch_tokens)),
           Check(t.checkpoint_interval_seconds >= 0,
                 "train.checkpoint_interval_seconds must be >= 0" +
                     Got(t.checkpoint_interval_seconds)),
           Check(t.checkpoint_interval_steps >= 0,
                 "train.checkpoint_interval_steps must be >= 0" + Got(t.checkpoint_interval_steps)),
       }) {
    if (!e.empty()) return e;
  }
  // Counts are used in int64 sums and products: each exact in a double.
  constexpr int64_t kMaxCount = int64_t{1} << 53;
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"tokens", t.tokens},
                                    {"batch_tokens", t.batch_tokens},
                                    {"eval_tokens", t.eval_tokens},
                                    {"eval_interval_tokens", t.eval_interval_tokens},
                                    {"log_interval_steps", t.log_interval_steps},
                                    {"micro_batch_tokens", t.micro_batch_tokens},
                                    {"checkpoint_interval_steps", t.checkpoint_interval_steps}}) {
    if (value > kMaxCount) {
      return std::string("train.") + name + " must be at most " + std::to_string(kMaxCount) +
             Got(value);
    }
  }
  return "";
}

bool ReadTrain(const json* section, const model::ModelShape& shape, TrainSettings* out,
               std::string* error, std::set<std::string>* keys) {
  TrainSettings ts;
  FieldReader train(section, "train.", error, keys);
  train.Int("tokens", &ts.tokens, true);
  train.Int("batch_tokens", &ts.batch_tokens, true);
  train.Number("lr", &ts.lr, true);
  train.Number("min_lr_ratio", &ts.min_lr_ratio);
  train.Number("warmup_fraction", &ts.warmup_fraction);
  train.Number("weight_decay", &ts.weight_decay);
  train.Number("grad_clip", &ts.grad_clip);
  train.Number("beta1", &ts.beta1);
  train.Number("beta2", &ts.beta2);
  train.Number("adam_eps", &ts.adam_eps);
  int64_t seed = static_cast<int64_t>(ts.seed);
  train.Int("seed", &seed);
  if (train.ok() && seed < 0) *error = "train.seed must be >= 0" + Got(seed);
  ts.seed = static_cast<uint64_t>(seed);
  train.Int("eval_tokens", &ts.eval_tokens);
  train.Int("eval_interval_tokens", &ts.eval_interval_tokens);
  train.Int("log_interval_steps", &ts.log_interval_steps);
  train.Int("micro_batch_tokens", &ts.micro_batch_tokens);
  train.Number("checkpoint_interval_seconds", &ts.checkpoint_interval_seconds);
  train.Int("checkpoint_interval_steps", &ts.checkpoint_interval_steps);
  if (!train.ok()) return false;
  *error = ValidateTrain(ts, shape);
  if (!error->empty()) return false;
  *out = ts;
  return true;
}

bool ReadData(const json* section, DataSettings* out, std::string* error,
              std::set<std::string>* keys) {
  DataSettings d;
  FieldReader data(section, "data.", error, keys);
  data.String("dataset", &d.dataset);
  int64_t unique = 0;
  const bool has_unique = data.Has("unique_tokens");
  data.Int("unique_tokens", &unique);
  if (data.ok() && has_unique) {
    if (unique <= 0) *error = "data.unique_tokens must be positive" + Got(unique);
    d.unique_tokens = unique;
  }
  data.Number("validation_fraction", &d.validation_fraction);
  if (!data.ok()) return false;
  if (d.dataset.empty()) {
    *error = "data.dataset must not be empty";
  } else if (!(d.validation_fraction > 0 && d.validation_fraction < 1)) {
    *error = "data.validation_fraction must be in (0, 1)" + Got(d.validation_fraction);
  }
  if (!error->empty()) return false;
  *out = std::move(d);
  return true;
}

bool ReadPlan(const json* section, std::optional<Plan>* out, std::string* error,
              std::set<std::string>* keys) {
  Plan p;
  FieldReader plan(section, "plan.", error, keys);
  for (const auto& [key, value] :
       {std::pair<const char*, double*>{"target_params", &p.target_params},
        {"budget", &p.budget},
        {"flops", &p.flops},
        {"flops_6nd", &p.flops_6nd}}) {
    plan.Number(key, value);
    if (plan.ok() && *value < 0)
      *error = std::string("plan.") + key + " must be >= 0" + Got(*value);
  }
  if (!plan.ok()) return false;
  if (section != nullptr) *out = p;
  return true;
}

// The sub-object `name` of `root`: nullptr when absent or null; an error
// when present as anything but an object, or absent though `required`.
bool Section(const json& root, const char* name, bool required, const json** out,
             std::string* error) {
  *out = nullptr;
  const auto it = root.find(name);
  if (it == root.end() || it->is_null()) {
    if (required) *error = std::string(name) + " is required";
    return !required;
  }
  if (!it->is_object()) {
    *error = std::string(name) + " must be an object";
    return false;
  }
  *out = &*it;
  return true;
}

bool ReadAll(const json& root, RunConfig* config, std::string* error, std::set<std::string>* keys) {
  if (!root.is_object()) {
    *error = "run config must be a JSON object";
    return false;
  }
  RunConfig c;
  FieldReader top(&root, "", error, keys);
  top.Int("run_id", &c.run_id);
  top.Int("sweep_id", &c.sweep_id);
  top.Int("attempt", &c.attempt);
  if (!top.ok()) return false;
  const json *train = nullptr, *data = nullptr, *plan = nullptr;
  if (!ReadShape(root, &c.shape, error, keys)) return false;
  if (!Section(root, "train", true, &train, error) || !Section(root, "data", false, &data, error) ||
      !Section(root, "plan", false, &plan, error)) {
    return false;
  }
  if (!ReadTrain(train, c.shape, &c.train, error, keys)) return false;
  if (!ReadData(data, &c.data, error, keys)) return false;
  if (!ReadPlan(plan, &c.plan, error, keys)) return false;
  top.Raw("simulation");  // opaque: set by the callers, which may move it
  *config = std::move(c);
  return true;
}

}  // namespace

// ---------------------------------------------------------------- reading

bool ReadShape(const json& root, model::ModelShape* shape, std::string* error,
               std::set<std::string>* keys) {
  model::ModelShape s;
  FieldReader top(&root, "", error, keys);
  std::string family = "transformer";
  top.String("family", &family, /*required=*/true);
  if (!top.ok()) return false;
  const auto parsed_family = model::ParseFamily(family);
  if (!parsed_family) {
    *error = "family must be \"transformer\" or \"lstm\" (got \"" + family + "\")";
    return false;
  }
  s.family = *parsed_family;
  const json* section = nullptr;
  if (!Section(root, "model", true, &section, error)) return false;
  FieldReader m(section, "model.", error, keys);
  const bool transformer = s.family == model::Family::kTransformer;
  m.Int("n_layer", &s.n_layer, true);
  m.Int("d_model", &s.d_model, true);
  m.Int("n_head", &s.n_head, transformer);
  m.Int("d_ff", &s.d_ff, transformer);
  m.Int("context", &s.context, true);
  m.Int("vocab", &s.vocab);
  std::string mlp = "gelu", positions = "learned";
  m.String("mlp", &mlp);
  m.String("positions", &positions);
  m.Bool("tie_embeddings", &s.tie_embeddings);
  if (!m.ok()) return false;
  const auto parsed_mlp = model::ParseMlp(mlp);
  const auto parsed_positions = model::ParsePositions(positions);
  if (!parsed_mlp) {
    *error = "model.mlp must be \"gelu\" or \"swiglu\" (got \"" + mlp + "\")";
    return false;
  }
  if (!parsed_positions) {
    *error = "model.positions must be \"learned\" or \"rotary\" (got \"" + positions + "\")";
    return false;
  }
  s.mlp = *parsed_mlp;
  s.positions = *parsed_positions;
  if (std::string why = model::ValidateShape(s); !why.empty()) {
    *error = "model." + why;
    return false;
  }
  *error = CheckShapeLimits(s);
  if (!error->empty()) return false;
  *shape = s;
  return true;
}

bool ReadRunConfig(const json& root, RunConfig* config, std::string* error,
                   std::set<std::string>* keys_read) {
  std::string e;
  if (!ReadAll(root, config, &e, keys_read)) {
    *error = Printable(e);
    return false;
  }
  const auto it = root.find("simulation");
  config->simulation = it != root.end() ? *it : json();
  return true;
}

bool ParseRunConfig(const std::string& json_text, RunConfig* config, std::string* error,
                    std::set<std::string>* keys_read) {
  json root;
  try {
    root = json::parse(json_text);
  } catch (const json::exception& e) {
    // parse_error, or out_of_range for a number no double holds (1e400).
    std::string what = e.what();
    // nlohmann's message starts with "[json.exception.parse_error.101] ".
    const auto bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    *error = Printable("run config is not valid JSON: " + what);
    return false;
  }
  std::string e;
  if (!ReadAll(root, config, &e, keys_read)) {
    *error = Printable(e);
    return false;
  }
  // Moved, not copied: copying a value recurses once per level of nesting,
  // and a hostile config may nest deeply there (parsing and destroying do
  // not recurse).
  const auto it = root.find("simulation");
  config->simulation = it != root.end() ? std::move(*it) : json();
  return true;
}

std::set<std::string> KnownRunConfigKeys() {
  RunConfig sample;
  sample.shape = {model::Family::kTransformer, 1, 64, 1, 256, 64};
  sample.train.tokens = sample.train.batch_tokens = 1 << 20;
  sample.train.lr = 1e-3;
  sample.plan = Plan{};
  std::set<std::string> keys;
  std::string error;
  ReadRunConfig(ToJson(sample), &sample, &error, &keys);
  return keys;
}

// ---------------------------------------------------------------- writing

json ShapeToJson(const model::ModelShape& s) {
  return {{"n_layer", s.n_layer},
          {"d_model", s.d_model},
          {"n_head", s.n_head},
          {"d_ff", s.d_ff},
          {"context", s.context},
          {"vocab", s.vocab},
          {"mlp", std::string(model::MlpName(s.mlp))},
          {"positions", std::string(model::PositionsName(s.positions))},
          {"tie_embeddings", s.tie_embeddings}};
}

void WriteShape(const model::ModelShape& shape, json* root) {
  (*root)["family"] = std::string(model::FamilyName(shape.family));
  (*root)["model"] = ShapeToJson(shape);
}

json ToJson(const RunConfig& c) {
  const TrainSettings& t = c.train;
  const TrainSettings defaults;
  json train = {{"tokens", t.tokens},
                {"batch_tokens", t.batch_tokens},
                {"lr", t.lr},
                {"min_lr_ratio", t.min_lr_ratio},
                {"warmup_fraction", t.warmup_fraction},
                {"weight_decay", t.weight_decay},
                {"grad_clip", t.grad_clip},
                {"beta1", t.beta1},
                {"beta2", t.beta2},
                {"seed", t.seed},
                {"eval_tokens", t.eval_tokens},
                {"log_interval_steps", t.log_interval_steps}};
  if (t.adam_eps != defaults.adam_eps) train["adam_eps"] = t.adam_eps;
  if (t.eval_interval_tokens != 0) train["eval_interval_tokens"] = t.eval_interval_tokens;
  if (t.micro_batch_tokens != 0) train["micro_batch_tokens"] = t.micro_batch_tokens;
  if (t.checkpoint_interval_seconds != defaults.checkpoint_interval_seconds)
    train["checkpoint_interval_seconds"] = t.checkpoint_interval_seconds;
  if (t.checkpoint_interval_steps != 0)
    train["checkpoint_interval_steps"] = t.checkpoint_interval_steps;
  json data = {{"dataset", c.data.dataset},
               {"unique_tokens", c.data.unique_tokens ? json(*c.data.unique_tokens) : json()}};
  if (c.data.validation_fraction != DataSettings().validation_fraction)
    data["validation_fraction"] = c.data.validation_fraction;

  json out = json::object();
  if (c.run_id != 0 || c.sweep_id != 0 || c.attempt != 0)
    StampAttempt({c.run_id, c.sweep_id, c.attempt}, &out);
  WriteShape(c.shape, &out);
  out["train"] = std::move(train);
  out["data"] = std::move(data);
  if (c.plan) {
    out["plan"] = {{"target_params", c.plan->target_params},
                   {"budget", c.plan->budget},
                   {"flops", c.plan->flops},
                   {"flops_6nd", c.plan->flops_6nd}};
  }
  out["simulation"] = c.simulation;
  return out;
}

// ---------------------------------------------------------------- identity

std::string Fingerprint(const RunConfig& c) {
  // The sections that decide the run's numbers, as parsed (so defaults and
  // key order do not matter).
  const TrainSettings& ts = c.train;
  json fp;
  fp["family"] = model::FamilyName(c.shape.family);
  fp["model"] = ShapeToJson(c.shape);
  fp["train"] = {{"tokens", ts.tokens},
                 {"batch_tokens", ts.batch_tokens},
                 {"lr", ts.lr},
                 {"min_lr_ratio", ts.min_lr_ratio},
                 {"warmup_fraction", ts.warmup_fraction},
                 {"weight_decay", ts.weight_decay},
                 {"grad_clip", ts.grad_clip},
                 {"beta1", ts.beta1},
                 {"beta2", ts.beta2},
                 {"adam_eps", ts.adam_eps},
                 {"seed", ts.seed},
                 {"eval_tokens", ts.eval_tokens},
                 {"eval_interval_tokens", ts.eval_interval_tokens},
                 {"log_interval_steps", ts.log_interval_steps}};
  fp["data"] = {{"dataset", c.data.dataset},
                {"unique_tokens", c.data.unique_tokens ? json(*c.data.unique_tokens) : json()},
                {"validation_fraction", c.data.validation_fraction}};
  return fp.dump();
}

void StampAttempt(const AttemptIdentity& id, json* config) {
  (*config)["run_id"] = id.run_id;
  (*config)["sweep_id"] = id.sweep_id;
  (*config)["attempt"] = id.attempt;
}

bool StampAttempt(const std::string& stored, const AttemptIdentity& id, std::string* stamped,
                  std::string* error, int indent) {
  json config;
  try {
    config = json::parse(stored);
  } catch (const json::exception& e) {
    *error = std::string("not JSON: ") + e.what();
    return false;
  }
  if (!config.is_object()) {
    *error = "not a JSON object";
    return false;
  }
  StampAttempt(id, &config);
  *stamped = config.dump(indent, ' ', false, json::error_handler_t::replace);
  return true;
}

}  // namespace ladder::protocol
