#include "server/sweep_spec.h"

#include <gtest/gtest.h>

namespace ladder {
namespace {

constexpr char kLadder[] = R"(
name: demo
kind: ladder
families: [transformer, lstm]
seeds: [1, 2]
model:
  context: 64
train:
  batch_tokens: 4096
  learning_rate: {rule: kaplan, scale: 1.5, family_scale: {lstm: 2}}
ladder:
  min_params: 2e4
  max_params: 2.0e6
  steps: 5
  tokens_per_param: 20
)";

TEST(SweepSpecTest, ParsesALadderWithEveryDefaultFilledIn) {
  auto spec = ParseSweepSpec(kLadder);
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->name, "demo");
  EXPECT_EQ(spec->kind, SweepKind::kLadder);
  ASSERT_EQ(spec->families.size(), 2u);
  EXPECT_EQ(spec->families[1], model::Family::kLstm);
  EXPECT_EQ(spec->seeds, (std::vector<int64_t>{1, 2}));
  EXPECT_DOUBLE_EQ(spec->ladder.min_params, 2e4);
  EXPECT_EQ(spec->ladder.steps, 5);
  EXPECT_EQ(spec->train.batch_tokens, 4096);
  EXPECT_DOUBLE_EQ(spec->train.learning_rate.scale, 1.5);
  EXPECT_DOUBLE_EQ(spec->train.learning_rate.family_scale.at(model::Family::kLstm), 2.0);
  EXPECT_EQ(spec->max_attempts, 3);
  EXPECT_EQ(spec->dataset, "debian-en");
  EXPECT_EQ(spec->device, "any");
}

TEST(SweepSpecTest, NormalisedJsonIsStableAcrossParses) {
  auto a = ParseSweepSpec(kLadder);
  auto b = ParseSweepSpec(kLadder);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(SweepSpecToJson(*a).dump(), SweepSpecToJson(*b).dump());
  EXPECT_EQ(SweepSpecToJson(*a)["ladder"]["steps"], 5);
}

// fit.shared_e: on by default for two or more families (they share the
// data's entropy floor), off for one; stored in the normalised JSON the
// refit loop reads.
TEST(SweepSpecTest, SharedEDefaultsToOnForTwoFamiliesAndIsStored) {
  auto two = ParseSweepSpec(kLadder);
  ASSERT_TRUE(two.ok()) << two.status();
  EXPECT_TRUE(two->fit.shared_e);
  EXPECT_EQ(SweepSpecToJson(*two)["fit"]["shared_e"], true);

  const std::string one_family =
      "name: x\nkind: ladder\nfamilies: [lstm]\nladder: {min_params: 1e4, max_params: 1e5, "
      "steps: 3}\n";
  auto one = ParseSweepSpec(one_family);
  ASSERT_TRUE(one.ok()) << one.status();
  EXPECT_FALSE(one->fit.shared_e);
  EXPECT_EQ(SweepSpecToJson(*one)["fit"]["shared_e"], false);
  auto one_off = ParseSweepSpec(one_family + "fit: {shared_e: false}\n");
  ASSERT_TRUE(one_off.ok()) << one_off.status();

  auto off = ParseSweepSpec(std::string(kLadder) + "fit:\n  shared_e: false\n");
  ASSERT_TRUE(off.ok()) << off.status();
  EXPECT_FALSE(off->fit.shared_e);
  EXPECT_EQ(SweepSpecToJson(*off)["fit"]["shared_e"], false);
}

struct BadCase {
  const char* what;
  const char* yaml;
  const char* expected;  // a substring of the error
};

class SweepSpecRefusalTest : public ::testing::TestWithParam<BadCase> {};

TEST_P(SweepSpecRefusalTest, RefusesWithTheFieldAtFault) {
  auto spec = ParseSweepSpec(GetParam().yaml);
  ASSERT_FALSE(spec.ok()) << GetParam().what;
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(spec.status().message()).find(GetParam().expected), std::string::npos)
      << GetParam().what << ": " << spec.status().message();
}

INSTANTIATE_TEST_SUITE_P(
    Table, SweepSpecRefusalTest,
    ::testing::Values(
        BadCase{"yaml syntax", "name: x\nkind: [ladder\n", "YAML syntax error at line"},
        BadCase{"not a mapping", "- a\n- b\n", "spec: must be a YAML mapping"},
        BadCase{"unknown family",
                "name: x\nkind: ladder\nfamilies: [transformer, rnn]\nladder: {min_params: 1e4, "
                "max_params: 1e5, steps: 2}\n",
                "families[1] (line 3): unknown family 'rnn'"},
        BadCase{"missing families",
                "name: x\nkind: ladder\nladder: {min_params: 1e4, max_params: 1e5, steps: 2}\n",
                "families: is required"},
        BadCase{"unknown kind", "name: x\nkind: ladders\nfamilies: [lstm]\n",
                "kind (line 2): unknown kind 'ladders'"},
        BadCase{"imported kind", "name: x\nkind: imported\nfamilies: [lstm]\n",
                "kind (line 2): unknown kind 'imported' (expected ladder, isoflop, grid or "
                "data_constrained)"},
        BadCase{"zero budget",
                "name: x\nkind: isoflop\nfamilies: [lstm]\nisoflop: {budgets: [1e12, 0]}\n",
                "isoflop.budgets[1] (line 4): must be positive"},
        BadCase{"negative params",
                "name: x\nkind: ladder\nfamilies: [lstm]\nladder: {min_params: -5, max_params: "
                "1e5, steps: 3}\n",
                "ladder.min_params (line 4): must be positive"},
        BadCase{"one step",
                "name: x\nkind: ladder\nfamilies: [lstm]\nladder: {min_params: 1e4, max_params: "
                "1e5, steps: 1}\n",
                "ladder.steps (line 4): must be at least 2"},
        BadCase{"typo field",
                "name: x\nkind: ladder\nfamilies: [lstm]\nladder: {min_params: 1e4, max_params: "
                "1e5, stpes: 3}\n",
                "ladder.stpes (line 4): unknown field"},
        BadCase{
            "not a number",
            "name: x\nkind: grid\nfamilies: [lstm]\ngrid: {params: [1e5, lots], tokens: [1e6]}\n",
            "grid.params[1] (line 4): must be a number, got 'lots'"},
        BadCase{"batch not multiple of context",
                "name: x\nkind: grid\nfamilies: [lstm]\nmodel: {context: 100}\ntrain: "
                "{batch_tokens: 4096}\ngrid: {params: [1e5], tokens: [1e6]}\n",
                "train.batch_tokens (line 5): must be a multiple of model.context (100)"},
        BadCase{"wrong section",
                "name: x\nkind: grid\nfamilies: [lstm]\nladder: {steps: 2}\ngrid: {params: [1e5], "
                "tokens: [1e6]}\n",
                "ladder (line 4): does not belong in a sweep of kind grid"},
        BadCase{"bad device",
                "name: x\nkind: grid\nfamilies: [lstm]\ndevice: tpu\ngrid: {params: [1e5], tokens: "
                "[1e6]}\n",
                "device (line 4): must be any, cpu or cuda"},
        BadCase{
            "duplicate family",
            "name: x\nkind: grid\nfamilies: [lstm, lstm]\ngrid: {params: [1e5], tokens: [1e6]}\n",
            "families[1] (line 3): family 'lstm' is listed twice"},
        BadCase{"fractional epochs list ok but zero unique",
                "name: x\nkind: data_constrained\nfamilies: [lstm]\ndata_constrained: "
                "{unique_tokens: 0, epochs: [1, 2], params: [1e5]}\n",
                "data_constrained.unique_tokens (line 4): must be at least 1"},
        BadCase{"bad lr rule",
                "name: x\nkind: grid\nfamilies: [lstm]\ntrain: {learning_rate: {rule: "
                "magic}}\ngrid: {params: [1e5], tokens: [1e6]}\n",
                "train.learning_rate.rule (line 4): unknown rule 'magic'"},
        BadCase{"shared E with one family",
                "name: x\nkind: grid\nfamilies: [lstm]\ngrid: {params: [1e5], tokens: "
                "[1e6]}\nfit: {shared_e: true}\n",
                "fit.shared_e (line 5): true needs two or more families to share E; the sweep "
                "has one (lstm)"},
        BadCase{"shared E not a boolean",
                "name: x\nkind: grid\nfamilies: [lstm, transformer]\ngrid: {params: [1e5], "
                "tokens: [1e6]}\nfit: {shared_e: maybe}\n",
                "fit.shared_e (line 5): must be true or false, got 'maybe'"},
        BadCase{"typo in fit",
                "name: x\nkind: grid\nfamilies: [lstm, transformer]\ngrid: {params: [1e5], "
                "tokens: [1e6]}\nfit: {shared: true}\n",
                "fit.shared (line 5): unknown field"},
        BadCase{"a newline in the name (it would forge log lines)",
                "name: \"x\\n2026-12-02T00:00:00Z I ladder] forged\"\nkind: grid\nfamilies: "
                "[lstm]\ngrid: {params: [1e5], tokens: [1e6]}\n",
                "name (line 1): must not contain control characters"}));

TEST(SweepSpecTest, ReportsEveryErrorAtOnce) {
  auto spec = ParseSweepSpec(
      "name: x\nkind: ladder\nfamilies: [rnn]\nladder: {min_params: 0, max_params: 1e5, steps: "
      "1}\n");
  ASSERT_FALSE(spec.ok());
  const std::string m(spec.status().message());
  EXPECT_NE(m.find("families[0]"), std::string::npos) << m;
  EXPECT_NE(m.find("ladder.min_params"), std::string::npos) << m;
  EXPECT_NE(m.find("ladder.steps"), std::string::npos) << m;
}

TEST(SweepSpecTest, SimulationBlockIsKeptAsJson) {
  auto spec = ParseSweepSpec(
      "name: x\nkind: grid\nfamilies: [lstm]\ngrid: {params: [1e5], tokens: [1e6]}\n"
      "simulation: {fault: crash_once, seconds: 0.2, law: {E: 1.5, alpha: 0.3}}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  EXPECT_EQ(spec->simulation["fault"], "crash_once");
  EXPECT_DOUBLE_EQ(spec->simulation["seconds"].get<double>(), 0.2);
  EXPECT_DOUBLE_EQ(spec->simulation["law"]["alpha"].get<double>(), 0.3);
}

// ---- hostile input: anchors and aliases, sizes, ranges, encodings

std::string Message(const absl::StatusOr<SweepSpec>& spec) {
  EXPECT_FALSE(spec.ok());
  EXPECT_EQ(spec.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(spec.status().message());
}

constexpr char kGridHead[] = "name: x\nkind: grid\nfamilies: [lstm]\n";

// A 413-byte alias bomb under `simulation:` was accepted and cost 310 MB,
// copied into every run's config.
TEST(SweepSpecTest, AliasBombIsRefusedNamingTheLine) {
  std::string yaml = std::string(kGridHead) + "grid: {params: [1e5], tokens: [1e6]}\nsimulation:\n";
  yaml += "  a0: &a0 [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 1; i < 9; ++i) {
    yaml += "  a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) yaml += std::string(k ? ", " : "") + "*a" + std::to_string(i - 1);
    yaml += "]\n";
  }
  EXPECT_EQ(Message(ParseSweepSpec(yaml)),
            "spec (line 6): YAML anchors (&name) are not accepted in a sweep file; write the value "
            "out");
}

TEST(SweepSpecTest, AnyAnchorOrAliasIsRefused) {
  EXPECT_NE(
      Message(ParseSweepSpec(std::string(kGridHead) + "grid: {params: &p [1e5], tokens: [1e6]}\n"))
          .find("spec (line 4): YAML anchors"),
      std::string::npos);
  // An alias to an undefined anchor is a syntax error; any alias is refused.
  const std::string m = Message(ParseSweepSpec(std::string(kGridHead) + "grid: *g\n"));
  EXPECT_TRUE(m.find("line 4") != std::string::npos) << m;
}

TEST(SweepSpecTest, SecondDocumentIsRefused) {
  EXPECT_EQ(Message(ParseSweepSpec(std::string(kGridHead) +
                                   "grid: {params: [1e5], tokens: [1e6]}\n---\nname: y\n")),
            "spec: more than one YAML document (one sweep per file)");
}

TEST(SweepSpecTest, FileOverTheSizeLimitIsRefused) {
  std::string yaml = std::string(kGridHead) + "grid: {params: [1e5], tokens: [1e6]}\n#";
  yaml += std::string(kMaxSweepFileBytes, 'x');
  EXPECT_EQ(
      Message(ParseSweepSpec(yaml))
          .rfind("spec: " + std::to_string(yaml.size()) + " bytes, more than the limit of 1048576",
                 0),
      0u);
}

TEST(SweepSpecTest, TextThatCannotBeStoredIsRefused) {
  EXPECT_EQ(Message(ParseSweepSpec(std::string(kGridHead) + "# caf\xe9\n")),
            "spec (line 4): not valid UTF-8 (byte 41)");
  // "\0" is a YAML escape for NUL: PostgreSQL text cannot hold it.
  EXPECT_NE(Message(ParseSweepSpec("name: \"a\\0b\"\nkind: grid\nfamilies: [lstm]\n"
                                   "grid: {params: [1e5], tokens: [1e6]}\n"))
                .find("name (line 1): must be UTF-8 text without NUL characters"),
            std::string::npos);
  // Nor can jsonb (the stored spec) hold a NUL.
  EXPECT_NE(Message(ParseSweepSpec(std::string(kGridHead) + "grid: {params: [1e5], tokens: [1e6]}\n"
                                                            "simulation: {fault: \"a\\0\"}\n"))
                .find("simulation (line 5): strings must be UTF-8 text without NUL characters"),
            std::string::npos);
}

// Integers were range-checked only against 9e15, then cast to int: 4294967297
// became 1.
TEST(SweepSpecTest, IntegersAreRangeCheckedBeforeTheCast) {
  const std::string grid = "grid: {params: [1e5], tokens: [1e6]}\n";
  EXPECT_NE(
      Message(ParseSweepSpec(std::string(kGridHead) + "model: {context: 4294967297}\n" + grid))
          .find("model.context (line 4): must be at most 1048576, got 4294967297"),
      std::string::npos);
  EXPECT_NE(Message(ParseSweepSpec(std::string(kGridHead) + "priority: 4294967297\n" + grid))
                .find("priority (line 4): must be at most 1000000"),
            std::string::npos);
  EXPECT_NE(Message(ParseSweepSpec(std::string(kGridHead) + "max_attempts: 4294967297\n" + grid))
                .find("max_attempts (line 4): must be at most 100"),
            std::string::npos);
  EXPECT_NE(
      Message(ParseSweepSpec("name: x\nkind: ladder\nfamilies: [lstm]\n"
                             "ladder: {min_params: 1e4, max_params: 1e5, steps: 4294967298}\n"))
          .find("ladder.steps (line 4): must be at most 1000"),
      std::string::npos);
  EXPECT_NE(
      Message(ParseSweepSpec(std::string(kGridHead) + "train: {log_interval_steps: 1e12}\n" + grid))
          .find("train.log_interval_steps (line 4): must be at most 1000000000"),
      std::string::npos);
}

// Seed 1e19 was stored as -2^63.
TEST(SweepSpecTest, SeedsMustFitExactly) {
  const std::string grid = "grid: {params: [1e5], tokens: [1e6]}\n";
  EXPECT_NE(Message(ParseSweepSpec(std::string(kGridHead) + "seeds: [1, 1e19]\n" + grid))
                .find("seeds[1] (line 4): must be a whole number in [0, 9007199254740992], got "
                      "'1e19'"),
            std::string::npos);
  EXPECT_NE(Message(ParseSweepSpec(std::string(kGridHead) + "seeds: [3, 3]\n" + grid))
                .find("seeds[1] (line 4): repeats seed 3"),
            std::string::npos);
  auto ok = ParseSweepSpec(std::string(kGridHead) + "seeds: 9007199254740992\n" + grid);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->seeds, (std::vector<int64_t>{int64_t{1} << 53}));
}

// grid.tokens: 1e30 planned 0 tokens.
TEST(SweepSpecTest, SizesAndTokensAreBounded) {
  EXPECT_NE(
      Message(ParseSweepSpec(std::string(kGridHead) + "grid: {params: [1e5], tokens: [1e30]}\n"))
          .find("grid.tokens[0] (line 4): must be at most 1e+15, got 1e30"),
      std::string::npos);
  EXPECT_NE(
      Message(ParseSweepSpec(std::string(kGridHead) + "grid: {params: 1e14, tokens: [1e6]}\n"))
          .find("grid.params (line 4): must be at most 1e+13"),
      std::string::npos);
  EXPECT_NE(Message(ParseSweepSpec("name: x\nkind: ladder\nfamilies: [lstm]\nladder: {min_params: "
                                   "1e4, max_params: 1e6, steps: 3, tokens_per_param: 1e10}\n"))
                .find("ladder.tokens_per_param (line 4): times max_params gives 1e+16 tokens"),
            std::string::npos);
  EXPECT_NE(Message(ParseSweepSpec("name: x\nkind: data_constrained\nfamilies: [lstm]\n"
                                   "data_constrained: {unique_tokens: 1e6, epochs: [1, 1e10], "
                                   "params: [1e5]}\n"))
                .find("data_constrained.epochs[1] (line 4): times unique_tokens gives 1e+16"),
            std::string::npos);
  EXPECT_NE(Message(ParseSweepSpec("name: x\nkind: isoflop\nfamilies: [lstm]\n"
                                   "isoflop: {budgets: [1e18], sizes: 1e9}\n"))
                .find("isoflop.sizes (line 4): must be at most 1000000"),
            std::string::npos);
  EXPECT_NE(Message(ParseSweepSpec(std::string(kGridHead) +
                                   "train: {learning_rate: {scale: 1e308, family_scale: {lstm: "
                                   "1e308}}}\ngrid: {params: [1e5], tokens: [1e6]}\n"))
                .find("train.learning_rate.scale (line 4): must be at most 1e+06"),
            std::string::npos);
}

TEST(SweepSpecTest, ManyErrorsGiveAShortMessage) {
  std::string yaml = std::string(kGridHead) + "grid: {params: [1e5], tokens: [";
  for (int i = 0; i < 1000; ++i) yaml += (i ? ", " : "") + std::string("x") + std::string(500, 'y');
  yaml += "]}\n";
  const std::string m = Message(ParseSweepSpec(yaml));
  EXPECT_LT(m.size(), 3000u);
  EXPECT_NE(m.find("grid.tokens[0] (line 4): must be a number, got 'xyyyy"), std::string::npos);
  EXPECT_NE(m.find("; and 980 more"), std::string::npos) << m;
}

TEST(SweepSpecTest, SimulationNestingIsBounded) {
  std::string deep = "1";
  for (int i = 0; i < 40; ++i) deep = "[" + deep + "]";
  EXPECT_NE(Message(ParseSweepSpec(std::string(kGridHead) +
                                   "grid: {params: [1e5], tokens: [1e6]}\nsimulation: {x: " + deep +
                                   "}\n"))
                .find("simulation (line 5): nests deeper than 32 levels"),
            std::string::npos);
}

}  // namespace
}  // namespace ladder
