// Results are checked against the run's plan before anything is stored.
#include "server/store/result_check.h"

#include <gtest/gtest.h>

namespace ladder {
namespace {

const PlannedLimits kPlan{/*tokens=*/1'000'000, /*flops=*/6e12, /*batch_tokens=*/4096};

// A complete result event (every required field) with `extra` keys appended.
std::string Result(const std::string& extra = "", double tokens = 1'000'000, double flops = 6e12) {
  nlohmann::json j = {{"event", "result"},
                      {"final_eval_loss", 2.5},
                      {"final_train_loss", 2.4},
                      {"params_total", 2000},
                      {"params_non_embedding", 1500},
                      {"tokens", tokens},
                      {"unique_tokens", 1'000'000},
                      {"epochs", 1.0},
                      {"flops", flops},
                      {"flops_6n", 5e12},
                      {"wall_seconds", 3},
                      {"device", "cpu"},
                      {"simulated", false},
                      {"details", nlohmann::json::object()}};
  std::string s = j.dump();
  if (!extra.empty()) s = s.substr(0, s.size() - 1) + "," + extra + "}";
  return s;
}

void ExpectRefused(const std::string& json, const std::string& field) {
  auto r = CheckResult(json, kPlan);
  ASSERT_FALSE(r.ok()) << json;
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find("result_json." + field), std::string::npos)
      << r.status();
}

// A worker's result nested 500,000 deep would parse, then overflow the
// coordinator's stack when copied or dumped: refused, nothing stored.
TEST(ResultCheckTest, ADeeplyNestedResultIsRefused) {
  const std::string nested = std::string(500000, '[') + std::string(500000, ']');
  auto r = CheckResult(Result("\"extra\":" + nested), kPlan);
  ASSERT_FALSE(r.ok());
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(r.status().message(), "result_json: not JSON: nested deeper than 64 levels");
  EXPECT_EQ(CheckResult("{", kPlan).status().message(), "result_json: not JSON (byte 2)");
}

TEST(ResultCheckTest, APlausibleResultPasses) {
  auto r = CheckResult(Result(), kPlan);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->result.tokens, 1'000'000);
  EXPECT_DOUBLE_EQ(r->result.final_eval_loss, 2.5);
  EXPECT_EQ(r->result.params_non_embedding, 1500);
  EXPECT_EQ(r->result.device, "cpu");
  // One batch past the plan (the trainer ends the batch it is in) is fine.
  EXPECT_TRUE(CheckResult(Result("", 1'000'000 * 1.1 + 4096, 6e12 * 1.1), kPlan).ok());
}

// `result` with `key` removed.
std::string Without(const std::string& key) {
  nlohmann::json j = nlohmann::json::parse(Result());
  j.erase(key);
  return j.dump();
}

TEST(ResultCheckTest, ImplausibleNumbersAreRefusedNamingTheField) {
  ExpectRefused(Result(R"("final_eval_loss": 1e300)"), "final_eval_loss");
  ExpectRefused(Result(R"("final_eval_loss": -1)"), "final_eval_loss");
  ExpectRefused(Result(R"("final_eval_loss": 0)"), "final_eval_loss");
  ExpectRefused(Without("tokens"), "tokens");
  ExpectRefused(Result("", -5), "tokens");
  ExpectRefused(Result("", 1e300), "tokens");
  ExpectRefused(Result("", 10), "tokens");         // far fewer than planned
  ExpectRefused(Result("", 5e6, 3e13), "tokens");  // far more
  ExpectRefused(Without("flops"), "flops");
  ExpectRefused(Result("", 1'000'000, -6e12), "flops");
  ExpectRefused(Result("", 1'000'000, 6e15), "flops");
  ExpectRefused(Result(R"("params_total": -3)"), "params_total");
  ExpectRefused(Result(R"("wall_seconds": -1)"), "wall_seconds");
  ExpectRefused(Result(R"("epochs": "many")"), "epochs");
  ExpectRefused(Result(R"("unique_tokens": 1e30)"), "unique_tokens");
  ExpectRefused(Result(R"("simulated": "yes")"), "simulated");
  ExpectRefused(Result(R"("params_non_embedding": 2001)"), "params_non_embedding");
  ExpectRefused(Result(R"("flops_6n": -1)"), "flops_6n");
  EXPECT_FALSE(CheckResult("[1, 2]", kPlan).ok());
  EXPECT_FALSE(CheckResult("not json", kPlan).ok());
}

// Missing fields were read as zeros and stored; now every field the
// protocol's table requires is required, named as the reader names it.
TEST(ResultCheckTest, EveryRequiredFieldIsRequired) {
  for (const auto& field : protocol::EventSchema<protocol::ResultEvent>::Fields()) {
    if (field.presence == protocol::Presence::kOptional) continue;
    auto r = CheckResult(Without(field.name), kPlan);
    ASSERT_FALSE(r.ok()) << field.name;
    EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
    EXPECT_EQ(r.status().message(), "result_json." + std::string(field.name) + ": is required");
  }
  auto r = CheckResult(Result(R"("device": 7)"), kPlan);
  EXPECT_EQ(r.status().message(), "result_json.device: must be a string");
  r = CheckResult(Result(R"("details": [])"), kPlan);
  EXPECT_EQ(r.status().message(), "result_json.details: must be an object");
}

TEST(ResultCheckTest, ExtraKeysAreKeptAndStringsAreCut) {
  const std::string device = "\"device\": \"" + std::string(300, 'd') + "\"";
  auto r = CheckResult(Result(R"("new_field": [1], )" + device), kPlan);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->json.at("new_field"), nlohmann::json::array({1}));
  EXPECT_EQ(r->result.device.size(), kMaxResultText);
}

TEST(ResultCheckTest, NulCharactersBecomeReplacementCharacters) {
  auto r =
      CheckResult(Result(R"("device": "gpu\u0000x", "details": {"k\u0000": ["\u0000"]})"), kPlan);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->result.device, "gpu\xEF\xBF\xBDx");
  const std::string dumped = StorableDump(r->json);
  EXPECT_EQ(dumped.find("\\u0000"), std::string::npos) << dumped;
  EXPECT_NE(dumped.find("k\xEF\xBF\xBD"), std::string::npos) << dumped;
}

TEST(ResultCheckTest, StorableDumpNeverThrowsOnInvalidUtf8) {
  nlohmann::json j = {{"s", std::string("a\xFF\xFE"
                                        "b")}};
  std::string out;
  EXPECT_NO_THROW(out = StorableDump(j));
  EXPECT_NE(out.find("\xEF\xBF\xBD"), std::string::npos);
}

}  // namespace
}  // namespace ladder
