#include "server/sweep_planner.h"

#include <gtest/gtest.h>

#include <cmath>
#include <set>

#include "common/protocol/run_config.h"

namespace ladder {
namespace {

SweepSpec MustParse(const std::string& yaml) {
  auto spec = ParseSweepSpec(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status();
  return spec.ok() ? *spec : SweepSpec{};
}

TEST(SweepPlannerTest, LadderInterleavesFamiliesOnIdenticalTokenBudgets) {
  SweepSpec spec = MustParse(
      "name: l\nkind: ladder\nfamilies: [transformer, lstm]\nladder: {min_params: 2e4, max_params: "
      "2e6, steps: 3}\n");
  auto runs = PlanSweep(spec);
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 6u);
  for (size_t i = 0; i < runs->size(); i += 2) {
    EXPECT_EQ((*runs)[i].family, model::Family::kTransformer);
    EXPECT_EQ((*runs)[i + 1].family, model::Family::kLstm);
    EXPECT_EQ((*runs)[i].tokens, (*runs)[i + 1].tokens) << "families must share the token budget";
    EXPECT_EQ((*runs)[i].ordinal, static_cast<int>(i));
  }
  // Geometric sizes: 2e4, 2e5, 2e6, at 20 tokens/param, rounded up to whole batches.
  EXPECT_EQ((*runs)[2].tokens, static_cast<int64_t>(std::ceil(20 * 2e5 / 4096.0)) * 4096);
  EXPECT_EQ((*runs)[0].tokens % 4096, 0);
}

TEST(SweepPlannerTest, PlannedFlopsUseTheExactCountAndSixNDBeside) {
  SweepSpec spec = MustParse(
      "name: g\nkind: grid\nfamilies: [transformer]\ngrid: {params: [1e6], tokens: [4096000]}\n");
  auto runs = PlanSweep(spec);
  ASSERT_TRUE(runs.ok());
  const PlannedRun& r = (*runs)[0];
  EXPECT_DOUBLE_EQ(r.flops, model::ExactFlopsPerToken(r.shape).training * r.tokens);
  EXPECT_DOUBLE_EQ(r.flops_6nd, 6.0 * r.params.non_embedding * r.tokens);
  EXPECT_GT(r.flops, r.flops_6nd);  // embedding, readout and attention terms
  EXPECT_EQ(r.config["model"]["d_model"], r.shape.d_model);
  EXPECT_EQ(r.config["train"]["tokens"], r.tokens);
  EXPECT_NEAR(r.config["train"]["lr"].get<double>(),
              model::PeakLearningRate(model::LrRule::kKaplan, 1.0, r.params.non_embedding), 1e-15);
}

TEST(SweepPlannerTest, IsoflopRunsSpendTheirBudget) {
  SweepSpec spec = MustParse(
      "name: i\nkind: isoflop\nfamilies: [transformer, lstm]\nisoflop: {budgets: [1e13, 1e14], "
      "sizes: 4}\n");
  auto runs = PlanSweep(spec);
  ASSERT_TRUE(runs.ok()) << runs.status();
  ASSERT_EQ(runs->size(), 16u);
  for (const PlannedRun& r : *runs) {
    // Rounded up to a whole batch: within one batch of the budget.
    EXPECT_GE(r.flops, r.budget);
    EXPECT_LT(r.flops - r.budget, model::ExactFlopsPerToken(r.shape).training * 4096 + 1);
  }
}

TEST(SweepPlannerTest, DataConstrainedRepeatsUniqueTokens) {
  SweepSpec spec = MustParse(
      "name: d\nkind: data_constrained\nfamilies: [lstm]\n"
      "data_constrained: {unique_tokens: 409600, epochs: [1, 4], params: [1e5]}\n");
  auto runs = PlanSweep(spec);
  ASSERT_TRUE(runs.ok());
  ASSERT_EQ(runs->size(), 2u);
  EXPECT_EQ((*runs)[1].tokens, 4 * 409600);
  EXPECT_EQ((*runs)[1].unique_tokens, 409600);
  EXPECT_EQ((*runs)[1].config["data"]["unique_tokens"], 409600);
}

// Every planned config is one the trainers accept: read back by the
// protocol's reader (the one ladder-train and ladder-sim use), it gives the
// planned run, plan section included.
TEST(SweepPlannerTest, PlannedConfigsReadBackThroughTheProtocol) {
  SweepSpec spec = MustParse(
      "name: d\nkind: data_constrained\nfamilies: [transformer, lstm]\nseeds: [7]\n"
      "data_constrained: {unique_tokens: 409600, epochs: [1, 4], params: [1e5]}\n");
  auto runs = PlanSweep(spec);
  ASSERT_TRUE(runs.ok()) << runs.status();
  for (const PlannedRun& r : *runs) {
    protocol::RunConfig c;
    std::string error;
    ASSERT_TRUE(protocol::ReadRunConfig(r.config, &c, &error)) << error << "\n" << r.config;
    EXPECT_EQ(c.shape, r.shape);
    EXPECT_EQ(c.train.tokens, r.tokens);
    EXPECT_EQ(c.train.seed, 7u);
    EXPECT_DOUBLE_EQ(c.train.lr, r.learning_rate);
    EXPECT_EQ(c.data.unique_tokens, r.unique_tokens);
    ASSERT_TRUE(c.plan.has_value());
    EXPECT_DOUBLE_EQ(c.plan->flops, r.flops);
    EXPECT_DOUBLE_EQ(c.plan->flops_6nd, r.flops_6nd);
    EXPECT_DOUBLE_EQ(c.plan->target_params, r.target_params);
    EXPECT_FALSE(r.config.contains("run_id"));  // stamped per attempt, at lease
    EXPECT_EQ(protocol::ToJson(c), r.config);
  }
}

TEST(SweepPlannerTest, ExpansionIsDeterministic) {
  SweepSpec spec = MustParse(
      "name: l\nkind: ladder\nfamilies: [transformer, lstm]\nseeds: [3, 4]\n"
      "ladder: {min_params: 3e4, max_params: 3e6, steps: 4}\n");
  auto a = PlanSweep(spec);
  auto b = PlanSweep(spec);
  ASSERT_TRUE(a.ok() && b.ok());
  ASSERT_EQ(a->size(), b->size());
  for (size_t i = 0; i < a->size(); ++i) EXPECT_EQ((*a)[i].config.dump(), (*b)[i].config.dump());
}

TEST(SweepPlannerTest, RefusesASizeTooSmallForTheRule) {
  SweepSpec spec = MustParse(
      "name: g\nkind: grid\nfamilies: [transformer]\ngrid: {params: [50], tokens: [1e6]}\n");
  auto runs = PlanSweep(spec);
  ASSERT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(runs.status().message()).find("outside the architecture rule's reach"),
            std::string::npos)
      << runs.status();
}

TEST(SweepPlannerTest, RefusesABudgetBelowOneBatch) {
  SweepSpec spec = MustParse(
      "name: i\nkind: isoflop\nfamilies: [lstm]\nisoflop: {budgets: [1e9], params: [1e5]}\n");
  auto runs = PlanSweep(spec);
  ASSERT_FALSE(runs.ok());
  EXPECT_NE(std::string(runs.status().message()).find("isoflop.budgets[0]"), std::string::npos)
      << runs.status();
  EXPECT_NE(std::string(runs.status().message()).find("less than one batch"), std::string::npos);
}

TEST(SweepPlannerTest, RefusesSizesThatCollapseOntoOneShape) {
  SweepSpec spec = MustParse(
      "name: l\nkind: ladder\nfamilies: [lstm]\nladder: {min_params: 1e5, max_params: 1.02e5, "
      "steps: 3}\n");
  auto runs = PlanSweep(spec);
  ASSERT_FALSE(runs.ok());
  EXPECT_NE(std::string(runs.status().message()).find("give the same lstm shape"),
            std::string::npos)
      << runs.status();
}

// ---- limits checked before anything is built

std::string PlanError(const std::string& yaml) {
  auto spec = ParseSweepSpec(yaml);
  EXPECT_TRUE(spec.ok()) << spec.status();
  if (!spec.ok()) return "";
  auto runs = PlanSweep(*spec);
  EXPECT_FALSE(runs.ok());
  EXPECT_EQ(runs.status().code(), absl::StatusCode::kInvalidArgument);
  return std::string(runs.status().message());
}

// `isoflop.sizes: 1e9` built every cell (1.08 GB, then bad_alloc) before
// counting them. The count now comes first and names the field.
TEST(SweepPlannerTest, TooManyRunsIsRefusedBeforeBuildingNamingTheField) {
  EXPECT_EQ(PlanError("name: i\nkind: isoflop\nfamilies: [lstm, transformer]\n"
                      "isoflop: {budgets: [1e15, 1e16], sizes: 1000000}\n"),
            "isoflop.sizes: the sweep expands into 4e+06 runs (2 isoflop.budgets x 1e+06 "
            "isoflop.sizes x 2 families x 1 seeds), more than the limit of 100000");
  std::string grid = "name: g\nkind: grid\nfamilies: [lstm]\nseeds: [";
  for (int i = 0; i < 400; ++i) grid += (i ? "," : "") + std::to_string(i);
  grid += "]\ngrid: {params: [1e5, 2e5, 4e5], tokens: [";
  for (int i = 0; i < 100; ++i) grid += (i ? "," : "") + std::to_string(4096 * (i + 1));
  grid += "]}\n";
  EXPECT_EQ(PlanError(grid).rfind("seeds: the sweep expands into 1.2e+05 runs", 0), 0u);
  auto spec = ParseSweepSpec(grid);
  ASSERT_TRUE(spec.ok());
  EXPECT_EQ(CountPlannedRuns(*spec).status().code(), absl::StatusCode::kInvalidArgument);
}

// A sweep of kMaxRunsPerSweep runs is accepted (the estimate of its configs'
// size once refused any over 65,536 runs), and a run's config stays well
// under the 2,048 bytes per run the estimate assumes.
TEST(SweepPlannerTest, ASweepOfTheMostRunsIsAcceptedAndItsConfigsAreSmall) {
  std::string grid = "name: g\nkind: grid\nfamilies: [lstm]\nseeds: [";
  for (int i = 0; i < 1000; ++i) grid += (i ? "," : "") + std::to_string(i + 1);
  grid += "]\ngrid: {params: [3e4], tokens: [";
  for (int i = 0; i < 100; ++i) grid += (i ? "," : "") + std::to_string(4096 * (i + 1));
  grid += "]}\n";
  auto count = CountPlannedRuns(MustParse(grid));
  ASSERT_TRUE(count.ok()) << count.status();
  EXPECT_EQ(*count, kMaxRunsPerSweep);

  auto runs = PlanSweep(
      MustParse("name: a name of some length for the sweep\nkind: isoflop\n"
                "families: [transformer, lstm]\nseeds: [123456789]\n"
                "isoflop: {budgets: [1.2345678901234e21, 3.3333333333333e19], sizes: 7}\n"
                "train: {learning_rate: {scale: 1.2345678901234}, warmup_fraction: 0.0123456789012,"
                " weight_decay: 0.123456789012345}\n"));
  ASSERT_TRUE(runs.ok()) << runs.status();
  size_t largest = 0;
  for (const auto& r : *runs) {
    nlohmann::json c = r.config;
    if (c.contains("data")) c["data"].erase("dataset");
    largest = std::max(largest, c.dump().size());
  }
  EXPECT_LT(largest, 1200u) << "the estimate assumes at most 2,048 bytes";
}

TEST(SweepPlannerTest, CountPlannedRunsMatchesThePlan) {
  SweepSpec spec = MustParse(
      "name: i\nkind: isoflop\nfamilies: [lstm]\nseeds: [1, 2]\n"
      "isoflop: {budgets: [1e13, 1e14], sizes: 3}\n");
  auto count = CountPlannedRuns(spec);
  auto runs = PlanSweep(spec);
  ASSERT_TRUE(count.ok() && runs.ok()) << count.status() << runs.status();
  EXPECT_EQ(*count, static_cast<int64_t>(runs->size()));
}

// A config over the worker's 4 MB receive limit was leased, refused by the
// worker and retried every 30 s. Now refused at submit, naming the field.
TEST(SweepPlannerTest, RunConfigOverTheLimitIsRefusedNamingSimulation) {
  // 0 is two bytes of YAML and four of JSON (0.0,): under the file limit,
  // over the config limit.
  std::string zeros;
  for (int i = 0; i < 300000; ++i) zeros += i ? ",0" : "0";
  const std::string m =
      PlanError(std::string("name: s\nkind: grid\nfamilies: [lstm]\n") +
                "grid: {params: [1e5], tokens: [1e6]}\nsimulation: {law: [" + zeros + "]}\n");
  EXPECT_EQ(m.rfind("simulation: 1200009 bytes as JSON, too large for a run's config", 0), 0u) << m;
}

TEST(SweepPlannerTest, SweepWhoseConfigsTogetherAreTooLargeIsRefused) {
  std::string tokens;
  for (int i = 0; i < 3000; ++i) tokens += (i ? "," : "") + std::to_string(4096 * (i + 1));
  const std::string m =
      PlanError("name: s\nkind: grid\nfamilies: [lstm]\ngrid: {params: [1e5], tokens: [" + tokens +
                "]}\nsimulation: {note: " + std::string(100000, 'n') + "}\n");
  EXPECT_EQ(m.rfind("simulation: 100011 bytes copied into each of 3e+03 runs' configs", 0), 0u)
      << m;
}

// Derived tokens (budget / FLOPs per token) beyond int64 were cast anyway.
TEST(SweepPlannerTest, DerivedTokensOverTheLimitAreRefused) {
  const std::string m = PlanError(
      "name: i\nkind: isoflop\nfamilies: [lstm]\nisoflop: {budgets: [1e28], params: [1e5]}\n");
  EXPECT_NE(m.find("isoflop.budgets[0]: lstm"), std::string::npos) << m;
  EXPECT_NE(m.find("tokens, more than the limit of 1e+15"), std::string::npos) << m;
  const std::string big =
      PlanError("name: i\nkind: isoflop\nfamilies: [lstm]\nisoflop: {budgets: [1e30], sizes: 3}\n");
  EXPECT_NE(big.find("params, more than the limit of 1e+13"), std::string::npos) << big;
}

// EstimateTrainingMemoryBytes works in int64; a shape with huge attention
// scores and batch would overflow it. Refused before it is called.
TEST(SweepPlannerTest, RunNeedingAbsurdMemoryIsRefused) {
  const std::string m = PlanError(
      "name: m\nkind: grid\nfamilies: [transformer]\n"
      "model: {context: 1048576, transformer_aspect: 65536}\n"
      "train: {batch_tokens: 4294967296}\ngrid: {params: [1e12], tokens: [1e15]}\n");
  EXPECT_NE(m.find("bytes to train, more than any device"), std::string::npos) << m;
}

TEST(SweepPlannerTest, RefusesTooManyRuns) {
  SweepSpec spec = MustParse(
      "name: g\nkind: grid\nfamilies: [lstm, transformer]\nseeds: [1,2,3,4,5,6,7,8,9,10]\n"
      "grid: {params: [1e5], tokens: [" +
      [] {
        std::string s;
        for (int i = 0; i < 6000; ++i) s += (i ? "," : "") + std::to_string(4096 * (i + 1));
        return s;
      }() +
      "]}\n");
  auto runs = PlanSweep(spec);
  ASSERT_FALSE(runs.ok());
  EXPECT_NE(std::string(runs.status().message()).find("more than the limit"), std::string::npos);
}

}  // namespace
}  // namespace ladder

#include <filesystem>
#include <fstream>
#include <sstream>

namespace ladder {
namespace {

// Every sweep file shipped in deploy/sweeps/ parses and plans.
TEST(ShippedSweepsTest, EveryFileInDeploySweepsIsValid) {
  int files = 0;
  for (const auto& entry :
       std::filesystem::directory_iterator(std::string(LADDER_SOURCE_DIR) + "/deploy/sweeps")) {
    if (entry.path().extension() != ".yaml") continue;
    ++files;
    std::ifstream in(entry.path());
    std::stringstream yaml;
    yaml << in.rdbuf();
    auto spec = ParseSweepSpec(yaml.str());
    ASSERT_TRUE(spec.ok()) << entry.path() << ": " << spec.status();
    auto runs = PlanSweep(*spec);
    ASSERT_TRUE(runs.ok()) << entry.path() << ": " << runs.status();
    EXPECT_FALSE(runs->empty()) << entry.path();
  }
  EXPECT_GE(files, 1);
}

}  // namespace
}  // namespace ladder
