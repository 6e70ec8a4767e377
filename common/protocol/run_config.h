// The run configuration (worker/TRAINER_PROTOCOL.md, "The run
// configuration") as typed structs with one JSON reader and one writer, used
// by every process that touches it: the coordinator's planner writes it, the
// lease store and the worker stamp the attempt onto it, ladder-train and
// ladder-sim read it. The model shape's JSON form lives here too.
//
// Needs only common/model and the nlohmann/json headers: ladder-train is
// also built alone with libtorch (LADDER_TRAINER_ONLY). Nothing here throws.
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <set>
#include <string>

#include "common/model/model_shape.h"

namespace ladder::protocol {

// `train` section. Defaults apply to keys the coordinator left out.
struct TrainSettings {
  int64_t tokens = 0;        // D, training tokens asked for (required)
  int64_t batch_tokens = 0;  // sequences x context (required)
  double lr = 0;             // peak learning rate (required)
  double min_lr_ratio = 0.1;
  double warmup_fraction = 0.05;
  double weight_decay = 0.1;
  double grad_clip = 1.0;  // max global L2 norm; 0 disables clipping
  double beta1 = 0.9;
  double beta2 = 0.95;
  double adam_eps = 1e-8;
  uint64_t seed = 1;
  int64_t eval_tokens = 131072;
  int64_t eval_interval_tokens = 0;  // 0: evaluate only at the end
  int64_t log_interval_steps = 10;
  // Trainer-local knobs: a micro-batch for gradient accumulation (0: derived
  // from the device), and how often to checkpoint (either trigger fires; 0
  // disables that trigger). They change no result, so they are left out of
  // the fingerprint, and the writer leaves them out while they are default.
  int64_t micro_batch_tokens = 0;
  double checkpoint_interval_seconds = 300;
  int64_t checkpoint_interval_steps = 0;
};

// `data` section (optional as a whole).
struct DataSettings {
  // A prepared corpus name, or an absolute path. The default corpus is
  // deploy/data/prepare-english.sh's; kjv (prepare-kjv.sh) is the small one.
  std::string dataset = "debian-en";
  std::optional<int64_t> unique_tokens;  // data-constrained: repeat the first U tokens
  double validation_fraction = 0.05;     // only for a single file given by path
};

// `plan` section: what the coordinator planned, for the record (optional;
// trainers do not need it).
struct Plan {
  double target_params = 0;  // the size asked for (non-embedding)
  double budget = 0;         // isoflop budget C, else 0
  double flops = 0;          // exact training FLOPs of the run
  double flops_6nd = 0;      // 6 * non-embedding params * tokens
};

struct RunConfig {
  // Per attempt: stamped when a run is leased (StampAttempt).
  int64_t run_id = 0;
  int64_t sweep_id = 0;
  int64_t attempt = 0;
  model::ModelShape shape;  // `family` and `model`
  TrainSettings train;
  DataSettings data;
  std::optional<Plan> plan;
  // `simulation`: opaque here, only ladder-sim reads it (worker/sim). Null
  // when absent.
  nlohmann::json simulation;
};

// ---------------------------------------------------------------- reading

// Reads the JSON text of a run configuration, strictly: a missing required
// key, a wrong type or a value out of range fails with one line naming the
// field ("train.lr must be positive (got -1)"), at most 500 ASCII
// characters. Missing or null optional keys take the defaults above;
// unknown keys are ignored, so the coordinator can add fields.
// `keys_read`, when given, collects every dotted key the reader looks at.
// ParseRunConfig moves the opaque `simulation` value out of the parsed text;
// ReadRunConfig copies it (a copy recurses once per level of nesting, so
// give it only JSON you built).
bool ParseRunConfig(const std::string& json_text, RunConfig* config, std::string* error,
                    std::set<std::string>* keys_read = nullptr);
bool ReadRunConfig(const nlohmann::json& root, RunConfig* config, std::string* error,
                   std::set<std::string>* keys_read = nullptr);

// Reads `family` and the `model` object of `root` into `shape` and validates
// it (model::ValidateShape and size limits that keep counts from
// overflowing). Messages as above ("model.d_model must be positive (got 0)").
bool ReadShape(const nlohmann::json& root, model::ModelShape* shape, std::string* error,
               std::set<std::string>* keys_read = nullptr);

// Every dotted key ReadRunConfig knows ("run_id", "model.n_layer",
// "train.lr", ..., "simulation"), for checks of the documentation.
std::set<std::string> KnownRunConfigKeys();

// ---------------------------------------------------------------- writing

// The `model` object of a shape (all nine keys).
nlohmann::json ShapeToJson(const model::ModelShape& shape);
// Sets `family` and `model` on `root`.
void WriteShape(const model::ModelShape& shape, nlohmann::json* root);

// The whole configuration. The trainer-local knobs of TrainSettings,
// eval_interval_tokens and data.validation_fraction are written only when
// they differ from their defaults; `plan` only when set. ReadRunConfig of
// the result gives `config` back.
nlohmann::json ToJson(const RunConfig& config);

// ---------------------------------------------------------------- identity

// The parts that define the run's numbers (family, model, train, data), as
// canonical JSON: the same for every attempt and key order, different when
// any setting that changes a result differs. Checkpoint cadence and the
// micro-batch are left out (they change no result up to float rounding of
// the accumulation), so they may change between attempts. A checkpoint
// written under another fingerprint is not resumed.
std::string Fingerprint(const RunConfig& config);

// run_id, sweep_id and attempt: stored per run without them, added when an
// attempt is leased.
struct AttemptIdentity {
  int64_t run_id = 0;
  int64_t sweep_id = 0;
  int64_t attempt = 0;
};
// Sets the identity keys on a config object, leaving every other key as it
// is (a stored config is forwarded, not re-written).
void StampAttempt(const AttemptIdentity& id, nlohmann::json* config);
// The same on JSON text, written with `indent` (-1: one line): false with
// `error` when `stored` is not a JSON object ("not JSON: ..." or "not a JSON
// object").
bool StampAttempt(const std::string& stored, const AttemptIdentity& id, std::string* stamped,
                  std::string* error, int indent = -1);

// ---------------------------------------------------------------- fields

// Reads typed fields out of one JSON object (nullptr: an absent section),
// keeping the first error as "PREFIX.KEY <what> (got VALUE)". Missing or
// null keys keep the caller's default unless `required`. Public so that a
// trainer's own section (ladder-sim's `simulation`) reads the same way.
class FieldReader {
 public:
  FieldReader(const nlohmann::json* object, std::string prefix, std::string* error,
              std::set<std::string>* keys_read = nullptr);

  bool Has(const char* key) const;
  void Int(const char* key, int64_t* out, bool required = false);
  void Int(const char* key, int* out, bool required = false);
  void Number(const char* key, double* out, bool required = false);
  void Bool(const char* key, bool* out);
  void String(const char* key, std::string* out, bool required = false);
  // The raw value of `key` (nullptr when absent or null), recorded as read.
  const nlohmann::json* Raw(const char* key);
  // Fails with "PREFIX.KEY <what> (got VALUE)" unless an error is already
  // set. VALUE is shown as JSON, scalars only, at most 60 ASCII characters.
  void Fail(const char* key, const std::string& what, const nlohmann::json& got);
  // Fails with "PREFIX.KEY <what>" unless an error is already set.
  void Fail(const char* key, const std::string& what);
  bool ok() const { return error_->empty(); }

 private:
  bool Present(const char* key, bool required);

  const nlohmann::json* object_;
  std::string prefix_;
  std::string* error_;
  std::set<std::string>* keys_read_;
};

}  // namespace ladder::protocol
