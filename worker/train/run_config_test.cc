#include "worker/train/run_config.h"

#include <gtest/gtest.h>

#include <string>

namespace ladder::train {
namespace {

// The example from worker/TRAINER_PROTOCOL.md, verbatim.
constexpr char kProtocolExample[] = R"({
  "run_id": 42, "sweep_id": 7, "attempt": 2,
  "family": "transformer",
  "model": {"n_layer": 2, "d_model": 64, "n_head": 2, "d_ff": 256, "context": 128,
            "vocab": 256, "mlp": "gelu", "positions": "learned", "tie_embeddings": true},
  "train": {"tokens": 2000000, "batch_tokens": 4096, "lr": 0.0013, "min_lr_ratio": 0.1,
            "warmup_fraction": 0.05, "weight_decay": 0.1, "grad_clip": 1.0,
            "beta1": 0.9, "beta2": 0.95, "seed": 1,
            "eval_tokens": 131072, "eval_interval_tokens": 500000, "log_interval_steps": 10},
  "data": {"dataset": "kjv", "unique_tokens": null},
  "plan": {"target_params": 100000, "budget": 0, "flops": 1.6e12, "flops_6nd": 1.2e12},
  "simulation": null
})";

std::string Replace(std::string text, const std::string& from, const std::string& to) {
  const auto at = text.find(from);
  EXPECT_NE(at, std::string::npos) << from;
  if (at != std::string::npos) text.replace(at, from.size(), to);
  return text;
}

// Parses `text`, expecting failure; returns the message (kind must be bad_config).
std::string RefusalOf(const std::string& text) {
  RunConfig config;
  TrainError error;
  EXPECT_FALSE(ParseRunConfig(text, &config, &error));
  EXPECT_EQ(error.kind, ErrorKind::kBadConfig);
  EXPECT_EQ(error.message.find('\n'), std::string::npos);
  return error.message;
}

TEST(RunConfigTest, ParsesTheProtocolExample) {
  RunConfig c;
  TrainError error;
  ASSERT_TRUE(ParseRunConfig(kProtocolExample, &c, &error)) << error.message;
  EXPECT_EQ(c.run_id, 42);
  EXPECT_EQ(c.sweep_id, 7);
  EXPECT_EQ(c.attempt, 2);
  EXPECT_EQ(c.shape.family, model::Family::kTransformer);
  EXPECT_EQ(c.shape.n_layer, 2);
  EXPECT_EQ(c.shape.d_model, 64);
  EXPECT_EQ(c.shape.n_head, 2);
  EXPECT_EQ(c.shape.d_ff, 256);
  EXPECT_EQ(c.shape.context, 128);
  EXPECT_EQ(c.shape.vocab, 256);
  EXPECT_TRUE(c.shape.tie_embeddings);
  EXPECT_EQ(c.train.tokens, 2000000);
  EXPECT_EQ(c.train.batch_tokens, 4096);
  EXPECT_DOUBLE_EQ(c.train.lr, 0.0013);
  EXPECT_DOUBLE_EQ(c.train.beta2, 0.95);
  EXPECT_EQ(c.train.eval_interval_tokens, 500000);
  EXPECT_EQ(c.data.dataset, "kjv");
  EXPECT_FALSE(c.data.unique_tokens.has_value());
}

TEST(RunConfigTest, ReadsOptionsThatChangeTheParameterCount) {
  std::string text = Replace(kProtocolExample, R"("mlp": "gelu")", R"("mlp": "swiglu")");
  text = Replace(text, R"("positions": "learned")", R"("positions": "rotary")");
  text = Replace(text, R"("tie_embeddings": true)", R"("tie_embeddings": false)");
  RunConfig c;
  TrainError error;
  ASSERT_TRUE(ParseRunConfig(text, &c, &error)) << error.message;
  EXPECT_EQ(c.shape.mlp, model::Mlp::kSwiGlu);
  EXPECT_EQ(c.shape.positions, model::Positions::kRotary);
  EXPECT_FALSE(c.shape.tie_embeddings);
}

TEST(RunConfigTest, LstmNeedsNoHeadsOrMlpWidth) {
  RunConfig c;
  TrainError error;
  ASSERT_TRUE(
      ParseRunConfig(R"({"family": "lstm", "model": {"n_layer": 2, "d_model": 64, "context": 32},
                                 "train": {"tokens": 1000, "batch_tokens": 64, "lr": 0.01}})",
                     &c, &error))
      << error.message;
  EXPECT_EQ(c.shape.family, model::Family::kLstm);
  EXPECT_EQ(c.shape.n_head, 0);
  EXPECT_EQ(c.data.dataset, "debian-en");  // the default corpus
  EXPECT_EQ(c.train.log_interval_steps, 10);
}

TEST(RunConfigTest, UnknownKeysAreIgnored) {
  RunConfig c;
  TrainError error;
  std::string text =
      Replace(kProtocolExample, R"("run_id": 42,)", R"("run_id": 42, "new_field": {"x": 1},)");
  EXPECT_TRUE(ParseRunConfig(text, &c, &error)) << error.message;
}

TEST(RunConfigTest, InvalidJsonIsRefused) {
  EXPECT_NE(RefusalOf("{\"family\": ").find("not valid JSON"), std::string::npos);
  EXPECT_NE(RefusalOf("[1, 2]").find("must be a JSON object"), std::string::npos);
}

TEST(RunConfigTest, ZeroWidthIsRefusedNamingTheField) {
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, R"("d_model": 64)", R"("d_model": 0)")),
            "model.d_model must be positive (got 0)");
}

TEST(RunConfigTest, HeadsThatDoNotDivideTheWidthAreRefused) {
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, R"("n_head": 2)", R"("n_head": 3)")),
            "model.d_model (64) is not divisible by n_head (3)");
}

TEST(RunConfigTest, UnknownFamilyIsRefused) {
  EXPECT_EQ(
      RefusalOf(Replace(kProtocolExample, R"("family": "transformer")", R"("family": "rnn")")),
      "family must be \"transformer\" or \"lstm\" (got \"rnn\")");
}

TEST(RunConfigTest, MissingRequiredFieldIsNamed) {
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, R"("lr": 0.0013,)", "")), "train.lr is required");
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, R"("tokens": 2000000,)", "")),
            "train.tokens is required");
}

TEST(RunConfigTest, WrongTypeIsRefusedNamingTheField) {
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, R"("lr": 0.0013)", R"("lr": "fast")")),
            "train.lr must be a finite number (got \"fast\")");
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, R"("n_layer": 2)", R"("n_layer": 2.5)")),
            "model.n_layer must be an integer (got 2.5)");
}

TEST(RunConfigTest, ImpossibleTrainingSettingsAreRefused) {
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, R"("lr": 0.0013)", R"("lr": -1)")),
            "train.lr must be positive (got -1)");
  EXPECT_EQ(
      RefusalOf(Replace(kProtocolExample, R"("batch_tokens": 4096)", R"("batch_tokens": 100)")),
      "train.batch_tokens must be at least model.context (128) (got 100)");
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, R"("warmup_fraction": 0.05)",
                              R"("warmup_fraction": 1.5)")),
            "train.warmup_fraction must be in [0, 1) (got 1.5)");
  EXPECT_EQ(
      RefusalOf(Replace(kProtocolExample, R"("unique_tokens": null)", R"("unique_tokens": 0)")),
      "data.unique_tokens must be positive (got 0)");
}

TEST(RunConfigTest, FingerprintIgnoresIdentityAndKeyOrderButNotSettings) {
  RunConfig a, b, c;
  TrainError error;
  ASSERT_TRUE(ParseRunConfig(kProtocolExample, &a, &error));
  std::string moved = Replace(kProtocolExample, R"("run_id": 42, "sweep_id": 7, "attempt": 2,)",
                              R"("attempt": 3, "run_id": 42, "sweep_id": 7,)");
  ASSERT_TRUE(ParseRunConfig(moved, &b, &error));
  EXPECT_EQ(a.fingerprint, b.fingerprint);
  ASSERT_TRUE(
      ParseRunConfig(Replace(kProtocolExample, R"("lr": 0.0013)", R"("lr": 0.002)"), &c, &error));
  EXPECT_NE(a.fingerprint, c.fingerprint);
}

// Hostile configs end as bad_config, never as an exception or a wrapped value.
TEST(RunConfigTest, NumberNoDoubleHoldsIsBadConfigNotAnException) {
  RunConfig config;
  TrainError error;
  bool ok = true;
  EXPECT_NO_THROW(ok = ParseRunConfig(Replace(kProtocolExample, "\"lr\": 0.0013", "\"lr\": 1e400"),
                                      &config, &error));
  EXPECT_FALSE(ok);
  EXPECT_EQ(error.kind, ErrorKind::kBadConfig);
  EXPECT_EQ(error.message.rfind("run config is not valid JSON: number overflow", 0), 0u)
      << error.message;
}

TEST(RunConfigTest, CountsOutOfRangeAreRefused) {
  // 2^64 - 1 read as int64 was -1 ("must be positive" hid the real fault).
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, "\"tokens\": 2000000",
                              "\"tokens\": 18446744073709551615")),
            "train.tokens is out of range (got 18446744073709551615)");
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, "\"tokens\": 2000000",
                              "\"tokens\": 9223372036854775807")),
            "train.tokens must be at most 9007199254740992 (got 9223372036854775807)");
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, "\"d_model\": 64", "\"d_model\": 2147483584")),
            "model.d_model must be at most 1048576 (got 2147483584)");
}

TEST(RunConfigTest, MessagesStayShortAndAscii) {
  const std::string nested = std::string(5000, '[') + std::string(5000, ']');
  EXPECT_EQ(RefusalOf(Replace(kProtocolExample, "\"lr\": 0.0013", "\"lr\": " + nested)),
            "train.lr must be a finite number (got an array)");
  const std::string m = RefusalOf(
      Replace(kProtocolExample, "\"transformer\"", "\"\xc3\xa9" + std::string(2000, 'x') + "\""));
  EXPECT_LE(m.size(), 500u);
  EXPECT_EQ(m.rfind("family must be \"transformer\" or \"lstm\" (got \"??xxx", 0), 0u) << m;
}

TEST(RunConfigTest, UnreadableFileIsBadConfig) {
  RunConfig c;
  TrainError error;
  EXPECT_FALSE(LoadRunConfig("/nonexistent/run.json", &c, &error));
  EXPECT_EQ(error.kind, ErrorKind::kBadConfig);
  EXPECT_EQ(error.message, "cannot read run config /nonexistent/run.json");
}

}  // namespace
}  // namespace ladder::train
