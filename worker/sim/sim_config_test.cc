#include "worker/sim/sim_config.h"

#include <gtest/gtest.h>

namespace ladder::sim {
namespace {

constexpr char kConfig[] = R"({
  "run_id": 42, "sweep_id": 7, "attempt": 2, "family": "transformer",
  "model": {"n_layer": 2, "d_model": 64, "n_head": 2, "d_ff": 256, "context": 128,
            "vocab": 256, "mlp": "gelu", "positions": "learned", "tie_embeddings": true},
  "train": {"tokens": 2000000, "batch_tokens": 4096, "lr": 0.0013, "min_lr_ratio": 0.1,
            "warmup_fraction": 0.05, "weight_decay": 0.1, "grad_clip": 1.0, "beta1": 0.9,
            "beta2": 0.95, "seed": 1, "eval_tokens": 131072, "eval_interval_tokens": 500000,
            "log_interval_steps": 10},
  "data": {"dataset": "kjv", "unique_tokens": null},
  "simulation": null
})";

std::string With(const std::string& from, const std::string& to) {
  std::string text = kConfig;
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

TEST(SimConfigTest, ReadsTheProtocolExample) {
  auto c = ParseSimRunConfig(kConfig);
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_EQ(c->run_id, 42);
  EXPECT_EQ(c->attempt, 2);
  EXPECT_EQ(c->shape.d_model, 64);
  EXPECT_EQ(c->tokens, 2000000);
  EXPECT_EQ(c->unique_tokens, 0);
  EXPECT_EQ(c->sim.fault, "");
  EXPECT_DOUBLE_EQ(c->sim.law.alpha, DefaultLaw(model::Family::kTransformer).alpha);
}

TEST(SimConfigTest, IdentityIgnoresTheAttemptButNotTheSeed) {
  const auto a = ParseSimRunConfig(kConfig);
  const auto b = ParseSimRunConfig(With("\"attempt\": 2", "\"attempt\": 3"));
  const auto c = ParseSimRunConfig(With("\"seed\": 1", "\"seed\": 2"));
  ASSERT_TRUE(a.ok() && b.ok() && c.ok());
  EXPECT_EQ(a->identity, b->identity);
  EXPECT_NE(a->identity, c->identity);
}

TEST(SimConfigTest, ReadsTheSimulationBlock) {
  auto c = ParseSimRunConfig(
      With("\"simulation\": null",
           R"("simulation": {"law": {"E": 1.5, "beta": 0.3}, "noise": 0, "seconds": 0.5,
          "fault": "crash_once", "fault_at": 0.25, "params": "total", "checkpoints": 2})"));
  ASSERT_TRUE(c.ok()) << c.status();
  EXPECT_DOUBLE_EQ(c->sim.law.E, 1.5);
  EXPECT_DOUBLE_EQ(c->sim.law.beta, 0.3);
  EXPECT_DOUBLE_EQ(c->sim.law.A, DefaultLaw(model::Family::kTransformer).A);
  EXPECT_DOUBLE_EQ(c->sim.seconds, 0.5);
  EXPECT_EQ(c->sim.fault, "crash_once");
  EXPECT_EQ(c->sim.params, "total");
  EXPECT_EQ(c->sim.checkpoints, 2);
}

// SIMULATION: the corpus a run reports (the result's corpus_tokens).
TEST(SimConfigTest, CorpusIsTheUniqueCapElseTheDeclaredElseTheDefault) {
  const auto by_default = ParseSimRunConfig(kConfig);
  ASSERT_TRUE(by_default.ok()) << by_default.status();
  EXPECT_EQ(by_default->corpus_tokens, kDefaultSimulatedCorpusTokens);
  const auto declared = ParseSimRunConfig(
      With("\"simulation\": null", R"("simulation": {"corpus_tokens": 1500000})"));
  ASSERT_TRUE(declared.ok()) << declared.status();
  EXPECT_EQ(declared->corpus_tokens, 1500000);
  EXPECT_NE(declared->identity, by_default->identity);  // it shapes the curve
  const auto capped = ParseSimRunConfig(With("\"unique_tokens\": null", "\"unique_tokens\": 4096"));
  ASSERT_TRUE(capped.ok()) << capped.status();
  EXPECT_EQ(capped->corpus_tokens, 4096);
  const auto negative =
      ParseSimRunConfig(With("\"simulation\": null", R"("simulation": {"corpus_tokens": -1})"));
  ASSERT_FALSE(negative.ok());
  EXPECT_NE(negative.status().message().find("simulation.corpus_tokens"), std::string::npos);
}

TEST(SimConfigTest, ErrorsNameTheField) {
  auto expect = [](const std::string& text, const std::string& message) {
    auto c = ParseSimRunConfig(text);
    EXPECT_EQ(c.status().code(), absl::StatusCode::kInvalidArgument) << message;
    EXPECT_EQ(c.status().message(), message);
  };
  // The common part: the messages of every trainer (common/protocol).
  expect(With("\"family\": \"transformer\"", "\"family\": \"rnn\""),
         "family must be \"transformer\" or \"lstm\" (got \"rnn\")");
  expect(With("\"d_model\": 64", "\"d_model\": 63"),
         "model.d_model (63) is not divisible by n_head (2)");
  expect(With("\"tokens\": 2000000", "\"tokens\": 0"), "train.tokens must be positive (got 0)");
  expect(With("\"batch_tokens\": 4096, ", ""), "train.batch_tokens is required");
  expect(With("\"lr\": 0.0013", "\"lr\": -1"), "train.lr must be positive (got -1)");
  // The simulation block.
  expect(With("\"simulation\": null", R"("simulation": {"fault": "explode"})"),
         "simulation.fault is not a known fault (got \"explode\")");
  expect(With("\"simulation\": null", R"("simulation": {"law": 3})"),
         "simulation.law must be an object (got 3)");
  expect(With("\"simulation\": null", R"("simulation": {"law": {"alpha": -0.5}})"),
         "simulation.law.alpha must be >= 0 (got -0.5)");
  expect(With("\"simulation\": null", R"("simulation": {"noise": 0.5})"),
         "simulation.noise must be in [0, 0.2] (got 0.5)");
  expect(With("\"simulation\": null", R"("simulation": {"checkpoints": "many"})"),
         "simulation.checkpoints must be an integer (got \"many\")");
  expect(With("\"simulation\": null", R"("simulation": [1])"), "simulation must be an object");
  expect("{not json", std::string(ParseSimRunConfig("{not json").status().message()));
  EXPECT_EQ(ParseSimRunConfig("[]").status().message(), "run config must be a JSON object");
}

}  // namespace
}  // namespace ladder::sim
