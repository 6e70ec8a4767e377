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
  EXPECT_EQ(spec->dataset, "kjv");
  EXPECT_EQ(spec->device, "any");
}

TEST(SweepSpecTest, NormalisedJsonIsStableAcrossParses) {
  auto a = ParseSweepSpec(kLadder);
  auto b = ParseSweepSpec(kLadder);
  ASSERT_TRUE(a.ok() && b.ok());
  EXPECT_EQ(SweepSpecToJson(*a).dump(), SweepSpecToJson(*b).dump());
  EXPECT_EQ(SweepSpecToJson(*a)["ladder"]["steps"], 5);
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
                "train.learning_rate.rule (line 4): unknown rule 'magic'"}));

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

}  // namespace
}  // namespace ladder
