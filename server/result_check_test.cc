// Results are checked against the run's plan before anything is stored.
#include "server/result_check.h"

#include <gtest/gtest.h>

namespace ladder {
namespace {

const PlannedLimits kPlan{/*tokens=*/1'000'000, /*flops=*/6e12, /*batch_tokens=*/4096};

std::string Result(const std::string& extra = "", double tokens = 1'000'000, double flops = 6e12) {
  nlohmann::json j = {{"final_eval_loss", 2.5}, {"tokens", tokens},  {"flops", flops},
                      {"params_total", 2000},   {"wall_seconds", 3}, {"device", "cpu"}};
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

TEST(ResultCheckTest, APlausibleResultPasses) {
  auto r = CheckResult(Result(), kPlan);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->tokens, 1'000'000);
  EXPECT_DOUBLE_EQ(r->final_eval_loss, 2.5);
  EXPECT_EQ(r->device, "cpu");
  // One batch past the plan (the trainer ends the batch it is in) is fine.
  EXPECT_TRUE(CheckResult(Result("", 1'000'000 * 1.1 + 4096, 6e12 * 1.1), kPlan).ok());
}

TEST(ResultCheckTest, ImplausibleNumbersAreRefusedNamingTheField) {
  ExpectRefused(R"({"final_eval_loss": 1e300, "tokens": 1000000, "flops": 6e12})",
                "final_eval_loss");
  ExpectRefused(R"({"final_eval_loss": -1, "tokens": 1000000, "flops": 6e12})", "final_eval_loss");
  ExpectRefused(R"({"final_eval_loss": 2, "flops": 6e12})", "tokens");
  ExpectRefused(Result("", -5), "tokens");
  ExpectRefused(Result("", 1e300), "tokens");
  ExpectRefused(Result("", 10), "tokens");         // far fewer than planned
  ExpectRefused(Result("", 5e6, 3e13), "tokens");  // far more
  ExpectRefused(R"({"final_eval_loss": 2, "tokens": 1000000})", "flops");
  ExpectRefused(Result("", 1'000'000, -6e12), "flops");
  ExpectRefused(Result("", 1'000'000, 6e15), "flops");
  ExpectRefused(Result(R"("params_total": -3)"), "params_total");
  ExpectRefused(Result(R"("wall_seconds": -1)"), "wall_seconds");
  ExpectRefused(Result(R"("epochs": "many")"), "epochs");
  ExpectRefused(Result(R"("unique_tokens": 1e30)"), "unique_tokens");
  ExpectRefused(Result(R"("simulated": "yes")"), "simulated");
  EXPECT_FALSE(CheckResult("[1, 2]", kPlan).ok());
  EXPECT_FALSE(CheckResult("not json", kPlan).ok());
}

TEST(ResultCheckTest, NulCharactersBecomeReplacementCharacters) {
  auto r =
      CheckResult(Result(R"("device": "gpu\u0000x", "details": {"k\u0000": ["\u0000"]})"), kPlan);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(r->device, "gpu\xEF\xBF\xBDx");
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
