#include "worker/train/run_config.h"

#include <cmath>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <sstream>
#include <tuple>
#include <utility>

namespace ladder::train {

using nlohmann::json;

const char* ErrorKindName(ErrorKind kind) {
  switch (kind) {
    case ErrorKind::kBadConfig:
      return "bad_config";
    case ErrorKind::kData:
      return "data";
    case ErrorKind::kDiverged:
      return "diverged";
    case ErrorKind::kNonFinite:
      return "non_finite";
    case ErrorKind::kInternal:
      return "internal";
  }
  return "internal";
}

namespace {

// Reads typed fields out of one JSON object, remembering the first error.
// Missing or null keys keep the caller's default unless `required`.
class FieldReader {
 public:
  FieldReader(const json& object, std::string prefix, std::string* error)
      : object_(object), prefix_(std::move(prefix)), error_(error) {}

  bool Has(const char* key) const {
    return object_.is_object() && object_.contains(key) && !object_.at(key).is_null();
  }

  void Int(const char* key, int64_t* out, bool required = false) {
    if (!Present(key, required)) return;
    const json& v = object_.at(key);
    if (v.is_number_unsigned() &&
        v.get<uint64_t>() > static_cast<uint64_t>(std::numeric_limits<int64_t>::max())) {
      Fail(key, "is out of range", v);  // read as int64 it would wrap negative
    } else if (v.is_number_integer()) {
      *out = v.get<int64_t>();
    } else if (v.is_number_float() && std::isfinite(v.get<double>()) &&
               v.get<double>() == std::floor(v.get<double>()) &&
               std::fabs(v.get<double>()) < 9e18) {
      *out = static_cast<int64_t>(v.get<double>());
    } else {
      Fail(key, "must be an integer", v);
    }
  }

  void Int(const char* key, int* out, bool required = false) {
    int64_t wide = *out;
    Int(key, &wide, required);
    if (wide < std::numeric_limits<int>::min() || wide > std::numeric_limits<int>::max()) {
      Fail(key, "is out of range", object_.at(key));
      return;
    }
    *out = static_cast<int>(wide);
  }

  void Number(const char* key, double* out, bool required = false) {
    if (!Present(key, required)) return;
    const json& v = object_.at(key);
    if (!v.is_number() || !std::isfinite(v.get<double>())) {
      Fail(key, "must be a finite number", v);
      return;
    }
    *out = v.get<double>();
  }

  void Bool(const char* key, bool* out) {
    if (!Present(key, false)) return;
    const json& v = object_.at(key);
    if (!v.is_boolean()) {
      Fail(key, "must be true or false", v);
      return;
    }
    *out = v.get<bool>();
  }

  void String(const char* key, std::string* out, bool required = false) {
    if (!Present(key, required)) return;
    const json& v = object_.at(key);
    if (!v.is_string()) {
      Fail(key, "must be a string", v);
      return;
    }
    *out = v.get<std::string>();
  }

  // Fails with "PREFIX.KEY <what> (got VALUE)" unless an error is already set.
  void Fail(const char* key, const std::string& what, const json& got) {
    if (!error_->empty()) return;
    // Only scalars are shown: dumping a deeply nested value recurses.
    std::string shown = got.is_array() ? std::string("an array")
                        : got.is_object()
                            ? std::string("an object")
                            : got.dump(-1, ' ', false, json::error_handler_t::replace);
    if (shown.size() > 60) shown = shown.substr(0, 57) + "...";
    *error_ = prefix_ + key + " " + what + " (got " + shown + ")";
  }

 private:
  bool Present(const char* key, bool required) {
    if (!error_->empty()) return false;
    if (Has(key)) return true;
    if (required) *error_ = prefix_ + key + " is required";
    return false;
  }

  const json& object_;
  std::string prefix_;
  std::string* error_;
};

std::string Check(bool ok, const std::string& message) { return ok ? "" : message; }

template <typename T>
std::string Got(const T& value) {
  std::ostringstream o;
  o << " (got " << value << ")";
  return o.str();
}

// Semantic checks that JSON types cannot express. Returns "" when usable.
std::string ValidateTrain(const TrainSettings& t, const model::ModelShape& shape) {
  std::string e;
  if (e.empty()) e = Check(t.tokens > 0, "train.tokens must be positive" + Got(t.tokens));
  if (e.empty()) {
    e = Check(t.batch_tokens >= shape.context,
              "train.batch_tokens must be at least model.context (" +
                  std::to_string(shape.context) + ")" + Got(t.batch_tokens));
  }
  if (e.empty()) e = Check(t.lr > 0, "train.lr must be positive" + Got(t.lr));
  if (e.empty()) {
    e = Check(t.min_lr_ratio >= 0 && t.min_lr_ratio <= 1,
              "train.min_lr_ratio must be in [0, 1]" + Got(t.min_lr_ratio));
  }
  if (e.empty()) {
    e = Check(t.warmup_fraction >= 0 && t.warmup_fraction < 1,
              "train.warmup_fraction must be in [0, 1)" + Got(t.warmup_fraction));
  }
  if (e.empty()) {
    e = Check(t.weight_decay >= 0, "train.weight_decay must be >= 0" + Got(t.weight_decay));
  }
  if (e.empty()) e = Check(t.grad_clip >= 0, "train.grad_clip must be >= 0" + Got(t.grad_clip));
  if (e.empty())
    e = Check(t.beta1 >= 0 && t.beta1 < 1, "train.beta1 must be in [0, 1)" + Got(t.beta1));
  if (e.empty())
    e = Check(t.beta2 >= 0 && t.beta2 < 1, "train.beta2 must be in [0, 1)" + Got(t.beta2));
  if (e.empty()) e = Check(t.adam_eps > 0, "train.adam_eps must be positive" + Got(t.adam_eps));
  if (e.empty()) {
    e = Check(t.eval_tokens >= shape.context, "train.eval_tokens must be at least model.context (" +
                                                  std::to_string(shape.context) + ")" +
                                                  Got(t.eval_tokens));
  }
  if (e.empty()) {
    e = Check(t.eval_interval_tokens >= 0,
              "train.eval_interval_tokens must be >= 0" + Got(t.eval_interval_tokens));
  }
  if (e.empty()) {
    e = Check(t.log_interval_steps > 0,
              "train.log_interval_steps must be positive" + Got(t.log_interval_steps));
  }
  if (e.empty()) {
    e = Check(
        t.micro_batch_tokens == 0 || t.micro_batch_tokens >= shape.context,
        "train.micro_batch_tokens must be 0 or at least model.context" + Got(t.micro_batch_tokens));
  }
  if (e.empty()) {
    e = Check(t.checkpoint_interval_seconds >= 0, "train.checkpoint_interval_seconds must be >= 0" +
                                                      Got(t.checkpoint_interval_seconds));
  }
  if (e.empty()) {
    e = Check(t.checkpoint_interval_steps >= 0,
              "train.checkpoint_interval_steps must be >= 0" + Got(t.checkpoint_interval_steps));
  }
  return e;
}

}  // namespace

bool ParseRunConfig(const std::string& text, RunConfig* config, TrainError* error) {
  auto fail = [&](const std::string& message) {
    error->kind = ErrorKind::kBadConfig;
    // Bounded and ASCII: it is printed in the `error` event, whose JSON
    // encoder refuses invalid UTF-8 (and a cut may split a character).
    error->message.clear();
    for (char c : message.substr(0, 500)) {
      const auto u = static_cast<unsigned char>(c);
      error->message += (u < 0x20 || u >= 0x7f) ? '?' : c;
    }
    return false;
  };
  json root;
  try {
    root = json::parse(text);
  } catch (const json::exception& e) {
    // parse_error, or out_of_range for a number no double holds (1e400).
    std::string what = e.what();
    // nlohmann's message starts with "[json.exception.parse_error.101] ".
    const auto bracket = what.find("] ");
    if (bracket != std::string::npos) what = what.substr(bracket + 2);
    return fail("run config is not valid JSON: " + what);
  }
  if (!root.is_object()) return fail("run config must be a JSON object");

  RunConfig c;
  std::string err;
  FieldReader top(root, "", &err);
  top.Int("run_id", &c.run_id);
  top.Int("sweep_id", &c.sweep_id);
  top.Int("attempt", &c.attempt);
  std::string family = "transformer";
  top.String("family", &family, /*required=*/true);
  if (!err.empty()) return fail(err);
  const auto parsed_family = model::ParseFamily(family);
  if (!parsed_family)
    return fail("family must be \"transformer\" or \"lstm\" (got \"" + family + "\")");
  c.shape.family = *parsed_family;

  for (const char* section : {"model", "train", "data"}) {
    if (section != std::string("data") && !top.Has(section)) {
      return fail(std::string(section) + " is required");
    }
    if (top.Has(section) && !root.at(section).is_object()) {
      return fail(std::string(section) + " must be an object");
    }
  }
  const json& m = root.at("model");
  FieldReader model(m, "model.", &err);
  model.Int("n_layer", &c.shape.n_layer, true);
  model.Int("d_model", &c.shape.d_model, true);
  model.Int("n_head", &c.shape.n_head, c.shape.family == model::Family::kTransformer);
  model.Int("d_ff", &c.shape.d_ff, c.shape.family == model::Family::kTransformer);
  model.Int("context", &c.shape.context, true);
  model.Int("vocab", &c.shape.vocab);
  std::string mlp = "gelu", positions = "learned";
  model.String("mlp", &mlp);
  model.String("positions", &positions);
  model.Bool("tie_embeddings", &c.shape.tie_embeddings);
  if (!err.empty()) return fail(err);
  const auto parsed_mlp = model::ParseMlp(mlp);
  if (!parsed_mlp) return fail("model.mlp must be \"gelu\" or \"swiglu\" (got \"" + mlp + "\")");
  c.shape.mlp = *parsed_mlp;
  const auto parsed_positions = model::ParsePositions(positions);
  if (!parsed_positions) {
    return fail("model.positions must be \"learned\" or \"rotary\" (got \"" + positions + "\")");
  }
  c.shape.positions = *parsed_positions;
  if (std::string shape_error = model::ValidateShape(c.shape); !shape_error.empty()) {
    return fail("model." + shape_error);
  }
  // Far beyond any model trained, and small enough that parameter counts
  // and FLOPs (common/model/model_counts.h, int64) cannot overflow.
  for (const auto& [name, value, max] :
       {std::tuple<const char*, int, int>{"n_layer", c.shape.n_layer, 1 << 16},
        {"d_model", c.shape.d_model, 1 << 20},
        {"n_head", c.shape.n_head, 1 << 20},
        {"d_ff", c.shape.d_ff, 1 << 24},
        {"context", c.shape.context, 1 << 20},
        {"vocab", c.shape.vocab, 1 << 24}}) {
    if (value > max) {
      return fail(std::string("model.") + name + " must be at most " + std::to_string(max) +
                  Got(value));
    }
  }

  const json& t = root.at("train");
  FieldReader train(t, "train.", &err);
  TrainSettings& ts = c.train;
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
  if (err.empty() && seed < 0) return fail("train.seed must be >= 0" + Got(seed));
  ts.seed = static_cast<uint64_t>(seed);
  train.Int("eval_tokens", &ts.eval_tokens);
  train.Int("eval_interval_tokens", &ts.eval_interval_tokens);
  train.Int("log_interval_steps", &ts.log_interval_steps);
  train.Int("micro_batch_tokens", &ts.micro_batch_tokens);
  train.Number("checkpoint_interval_seconds", &ts.checkpoint_interval_seconds);
  train.Int("checkpoint_interval_steps", &ts.checkpoint_interval_steps);
  if (!err.empty()) return fail(err);
  if (std::string e = ValidateTrain(ts, c.shape); !e.empty()) return fail(e);
  // Counts are used in int64 sums and products: each exact in a double.
  constexpr int64_t kMaxCount = int64_t{1} << 53;
  for (const auto& [name, value] : {std::pair<const char*, int64_t>{"tokens", ts.tokens},
                                    {"batch_tokens", ts.batch_tokens},
                                    {"eval_tokens", ts.eval_tokens},
                                    {"eval_interval_tokens", ts.eval_interval_tokens},
                                    {"log_interval_steps", ts.log_interval_steps},
                                    {"micro_batch_tokens", ts.micro_batch_tokens},
                                    {"checkpoint_interval_steps", ts.checkpoint_interval_steps}}) {
    if (value > kMaxCount) {
      return fail(std::string("train.") + name + " must be at most " + std::to_string(kMaxCount) +
                  Got(value));
    }
  }

  json data_json = top.Has("data") ? root.at("data") : json::object();
  FieldReader data(data_json, "data.", &err);
  data.String("dataset", &c.data.dataset);
  if (data.Has("unique_tokens")) {
    int64_t unique = 0;
    data.Int("unique_tokens", &unique);
    if (err.empty() && unique <= 0)
      return fail("data.unique_tokens must be positive" + Got(unique));
    c.data.unique_tokens = unique;
  }
  data.Number("validation_fraction", &c.data.validation_fraction);
  if (!err.empty()) return fail(err);
  if (c.data.dataset.empty()) return fail("data.dataset must not be empty");
  if (!(c.data.validation_fraction > 0 && c.data.validation_fraction < 1)) {
    return fail("data.validation_fraction must be in (0, 1)" + Got(c.data.validation_fraction));
  }

  // Fingerprint: the sections that decide the run's numbers, as parsed (so
  // defaults and key order do not matter). Checkpoint cadence and the
  // micro-batch change no result (up to float rounding of the accumulation)
  // and are left out, so they may change between attempts.
  json fp;
  fp["family"] = model::FamilyName(c.shape.family);
  fp["model"] = {{"n_layer", c.shape.n_layer},
                 {"d_model", c.shape.d_model},
                 {"n_head", c.shape.n_head},
                 {"d_ff", c.shape.d_ff},
                 {"context", c.shape.context},
                 {"vocab", c.shape.vocab},
                 {"mlp", model::MlpName(c.shape.mlp)},
                 {"positions", model::PositionsName(c.shape.positions)},
                 {"tie_embeddings", c.shape.tie_embeddings}};
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
  c.fingerprint = fp.dump();
  *config = std::move(c);
  return true;
}

bool LoadRunConfig(const std::string& path, RunConfig* config, TrainError* error) {
  std::ifstream in(path, std::ios::binary);
  if (!in) {
    error->kind = ErrorKind::kBadConfig;
    error->message = "cannot read run config " + path;
    return false;
  }
  std::stringstream buffer;
  buffer << in.rdbuf();
  return ParseRunConfig(buffer.str(), config, error);
}

}  // namespace ladder::train
