// The run configuration's reader and writer, and TRAINER_PROTOCOL.md's
// "The run configuration" section checked against the reader. The messages
// the reader gives are pinned by worker/train/run_config_test.cc (they are
// ladder-train's bad_config messages).
#include "common/protocol/run_config.h"

#include <gtest/gtest.h>

#include <fstream>
#include <set>
#include <sstream>
#include <string>

namespace ladder::protocol {
namespace {

using nlohmann::json;

// TRAINER_PROTOCOL.md's "The run configuration" section.
std::string DocSection() {
  std::ifstream in(std::string(LADDER_SOURCE_DIR) + "/worker/TRAINER_PROTOCOL.md");
  EXPECT_TRUE(in) << "cannot read worker/TRAINER_PROTOCOL.md under " << LADDER_SOURCE_DIR;
  std::stringstream text;
  text << in.rdbuf();
  const std::string doc = text.str();
  const auto start = doc.find("## The run configuration");
  EXPECT_NE(start, std::string::npos) << "no \"## The run configuration\" section";
  if (start == std::string::npos) return "";
  const auto end = doc.find("\n## ", start + 1);
  return doc.substr(start, end == std::string::npos ? std::string::npos : end - start);
}

// The section's example (its first ```json block).
std::string DocExample() {
  const std::string section = DocSection();
  const auto start = section.find("```json\n");
  EXPECT_NE(start, std::string::npos) << "no ```json example in the section";
  if (start == std::string::npos) return "";
  const auto body = start + 8;
  return section.substr(body, section.find("```", body) - body);
}

// The first cell of each row of the section's key table: "| `train.lr` | ...".
std::set<std::string> DocTableKeys() {
  std::istringstream lines(DocSection());
  std::set<std::string> keys;
  for (std::string line; std::getline(lines, line);) {
    if (line.rfind("| `", 0) != 0) continue;
    keys.insert(line.substr(3, line.find('`', 3) - 3));
  }
  return keys;
}

// Dotted keys of a config object, one level into its sections.
std::set<std::string> KeysOf(const json& config) {
  std::set<std::string> keys;
  for (const auto& [key, value] : config.items()) {
    if (value.is_object() && key != "simulation") {
      for (const auto& [inner, unused] : value.items()) keys.insert(key + "." + inner);
    } else {
      keys.insert(key);
    }
  }
  return keys;
}

RunConfig Example() {
  RunConfig c;
  std::string error;
  EXPECT_TRUE(ParseRunConfig(DocExample(), &c, &error)) << error;
  return c;
}

TEST(RunConfigDocTest, TheTableNamesExactlyTheKeysTheReaderKnows) {
  const std::set<std::string> known = KnownRunConfigKeys();
  const std::set<std::string> doc = DocTableKeys();
  ASSERT_GT(known.size(), 30u);
  for (const std::string& key : known) {
    EXPECT_TRUE(doc.count(key)) << key << " is read by the reader but not in the doc's table";
  }
  for (const std::string& key : doc) {
    EXPECT_TRUE(known.count(key)) << key << " is in the doc's table but not read by the reader";
  }
}

TEST(RunConfigDocTest, TheExampleParsesAndUsesOnlyKnownKeys) {
  const RunConfig c = Example();
  EXPECT_EQ(c.run_id, 42);
  EXPECT_EQ(c.shape.d_model, 64);
  EXPECT_DOUBLE_EQ(c.train.lr, 0.0013);
  ASSERT_TRUE(c.plan.has_value());
  EXPECT_DOUBLE_EQ(c.plan->flops_6nd, 1.2e12);
  EXPECT_TRUE(c.simulation.is_null());
  const std::set<std::string> known = KnownRunConfigKeys();
  for (const std::string& key : KeysOf(json::parse(DocExample()))) {
    EXPECT_TRUE(known.count(key)) << key << " is in the doc's example but not read by the reader";
  }
}

TEST(RunConfigTest, ToJsonReadsBackToTheSameConfig) {
  RunConfig c = Example();
  c.shape.mlp = model::Mlp::kSwiGlu;
  c.shape.tie_embeddings = false;
  c.train.adam_eps = 1e-6;
  c.train.micro_batch_tokens = 1024;
  c.train.checkpoint_interval_seconds = 0;
  c.data.unique_tokens = 4096;
  c.data.validation_fraction = 0.1;
  c.simulation = {{"noise", 0}, {"fault", "crash_once"}};
  RunConfig back;
  std::string error;
  ASSERT_TRUE(ReadRunConfig(ToJson(c), &back, &error)) << error;
  EXPECT_EQ(ToJson(back), ToJson(c));
  EXPECT_EQ(back.shape, c.shape);
  EXPECT_EQ(back.train.micro_batch_tokens, 1024);
  EXPECT_EQ(back.train.checkpoint_interval_seconds, 0);
  EXPECT_EQ(back.data.unique_tokens, 4096);
  EXPECT_EQ(back.simulation, c.simulation);
  EXPECT_EQ(Fingerprint(back), Fingerprint(c));
}

TEST(RunConfigTest, WriterLeavesOutDefaultKnobsAndAnUnstampedIdentity) {
  RunConfig c = Example();
  c.run_id = c.sweep_id = c.attempt = 0;
  c.plan.reset();
  const json j = ToJson(c);
  EXPECT_FALSE(j.contains("run_id"));
  EXPECT_FALSE(j.contains("attempt"));
  EXPECT_FALSE(j.contains("plan"));
  EXPECT_FALSE(j["train"].contains("adam_eps"));
  EXPECT_FALSE(j["train"].contains("micro_batch_tokens"));
  EXPECT_FALSE(j["train"].contains("checkpoint_interval_seconds"));
  EXPECT_FALSE(j["data"].contains("validation_fraction"));
  EXPECT_TRUE(j["data"]["unique_tokens"].is_null());
  EXPECT_TRUE(j.contains("simulation"));
  EXPECT_EQ(j["model"], ShapeToJson(c.shape));
  EXPECT_EQ(j["family"], "transformer");
}

TEST(RunConfigTest, ShapeReadsBackFromItsJson) {
  model::ModelShape s;
  s.family = model::Family::kLstm;
  s.n_layer = 3;
  s.d_model = 96;
  s.context = 64;
  s.vocab = 512;
  s.tie_embeddings = false;
  json root;
  WriteShape(s, &root);
  EXPECT_EQ(root["family"], "lstm");
  model::ModelShape back;
  std::string error;
  ASSERT_TRUE(ReadShape(root, &back, &error)) << error;
  EXPECT_EQ(back, s);
}

TEST(RunConfigTest, StampSetsTheAttemptAndKeepsEveryOtherKey) {
  std::string stamped, error;
  ASSERT_TRUE(StampAttempt(R"({"family": "lstm", "future": {"x": [1, 2]}, "attempt": 9})",
                           {5, 6, 2}, &stamped, &error))
      << error;
  const json j = json::parse(stamped);
  EXPECT_EQ(j["run_id"], 5);
  EXPECT_EQ(j["sweep_id"], 6);
  EXPECT_EQ(j["attempt"], 2);
  EXPECT_EQ(j["family"], "lstm");
  EXPECT_EQ(j["future"], json({{"x", {1, 2}}}));

  EXPECT_FALSE(StampAttempt("[1]", {1, 1, 1}, &stamped, &error));
  EXPECT_EQ(error, "not a JSON object");
  EXPECT_FALSE(StampAttempt("{\"family\": ", {1, 1, 1}, &stamped, &error));
  EXPECT_EQ(error.rfind("not JSON: ", 0), 0u) << error;
}

TEST(RunConfigTest, DataAndPlanMayBeAbsentButNotMalformed) {
  const std::string base =
      R"({"family": "lstm", "model": {"n_layer": 1, "d_model": 8, "context": 8},
          "train": {"tokens": 64, "batch_tokens": 8, "lr": 0.1, "eval_tokens": 8})";
  RunConfig c;
  std::string error;
  ASSERT_TRUE(ParseRunConfig(base + "}", &c, &error)) << error;
  EXPECT_FALSE(c.plan.has_value());
  EXPECT_EQ(c.data.dataset, "debian-en");
  EXPECT_FALSE(ParseRunConfig(base + R"(, "plan": [1]})", &c, &error));
  EXPECT_EQ(error, "plan must be an object");
  EXPECT_FALSE(ParseRunConfig(base + R"(, "plan": {"flops": -1}})", &c, &error));
  EXPECT_EQ(error, "plan.flops must be >= 0 (got -1)");
  EXPECT_FALSE(ParseRunConfig(base + R"(, "plan": {"budget": "big"}})", &c, &error));
  EXPECT_EQ(error, "plan.budget must be a finite number (got \"big\")");
  EXPECT_FALSE(ParseRunConfig(base + R"(, "data": 3})", &c, &error));
  EXPECT_EQ(error, "data must be an object");
  EXPECT_FALSE(ParseRunConfig(R"({"family": "lstm", "train": {}})", &c, &error));
  EXPECT_EQ(error, "model is required");
}

// The opaque simulation block is moved out of the parsed text, not copied:
// a copy recurses once per level, and this one would overflow the stack.
TEST(RunConfigTest, DeeplyNestedSimulationBlockIsReadWithoutRecursion) {
  const int depth = 500000;
  const std::string text =
      R"({"family": "lstm", "model": {"n_layer": 1, "d_model": 8, "context": 8},
          "train": {"tokens": 64, "batch_tokens": 8, "lr": 0.1, "eval_tokens": 8},
          "simulation": )" +
      std::string(depth, '[') + std::string(depth, ']') + "}";
  RunConfig c;
  std::string error;
  ASSERT_TRUE(ParseRunConfig(text, &c, &error)) << error;
  EXPECT_TRUE(c.simulation.is_array());
}

// A trainer's own section reads with the same FieldReader and messages.
TEST(FieldReaderTest, NamesTheFieldAndKeepsTheFirstError) {
  const json section = {{"noise", "loud"}, {"checkpoints", 2.5}, {"fault", "crash"}};
  std::string error;
  std::set<std::string> keys;
  FieldReader r(&section, "simulation.", &error, &keys);
  double noise = 0.01;
  int checkpoints = 4;
  std::string fault;
  r.Number("noise", &noise);
  r.Int("checkpoints", &checkpoints);
  r.String("fault", &fault);
  EXPECT_EQ(error, "simulation.noise must be a finite number (got \"loud\")");
  EXPECT_EQ(checkpoints, 4);
  EXPECT_EQ(keys, (std::set<std::string>{"simulation.noise", "simulation.checkpoints",
                                         "simulation.fault"}));

  std::string absent_error;
  FieldReader absent(nullptr, "simulation.", &absent_error);
  absent.Number("noise", &noise);
  EXPECT_TRUE(absent.ok());
  absent.Int("checkpoints", &checkpoints, /*required=*/true);
  EXPECT_EQ(absent_error, "simulation.checkpoints is required");
}

}  // namespace
}  // namespace ladder::protocol
