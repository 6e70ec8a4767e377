#include "server/fit/fit_json.h"

#include <gtest/gtest.h>

#include <cmath>

#include "server/fit/isoflop_fit.h"
#include "server/fit/power_law_fit.h"
#include "server/fit/prediction.h"
#include "server/fit/simulated_observations.h"

namespace ladder::fit {
namespace {

bool SameDouble(double a, double b) { return (std::isnan(a) && std::isnan(b)) || a == b; }

void ExpectSameFit(const FitResult& a, const FitResult& b) {
  EXPECT_EQ(a.form, b.form);
  EXPECT_EQ(a.family, b.family);
  EXPECT_EQ(a.status, b.status);
  EXPECT_EQ(a.reason, b.reason);
  ASSERT_EQ(a.parameters.size(), b.parameters.size());
  for (size_t k = 0; k < a.parameters.size(); ++k) {
    EXPECT_EQ(a.parameters[k].name, b.parameters[k].name);
    EXPECT_TRUE(SameDouble(a.parameters[k].value.estimate, b.parameters[k].value.estimate));
    EXPECT_TRUE(SameDouble(a.parameters[k].value.lower, b.parameters[k].value.lower));
    EXPECT_TRUE(SameDouble(a.parameters[k].value.upper, b.parameters[k].value.upper));
    EXPECT_EQ(a.parameters[k].at_bound, b.parameters[k].at_bound);
    EXPECT_TRUE(SameDouble(a.parameters[k].bound, b.parameters[k].bound));
  }
  EXPECT_EQ(a.law, b.law);
  EXPECT_EQ(a.law_samples, b.law_samples);
  EXPECT_EQ(a.runs_used, b.runs_used);
  EXPECT_TRUE(SameDouble(a.rmse_log_loss, b.rmse_log_loss));
  EXPECT_TRUE(SameDouble(a.holdout_relative_error, b.holdout_relative_error));
  EXPECT_EQ(a.bootstrap_resamples, b.bootstrap_resamples);
  EXPECT_EQ(a.fit_seconds, b.fit_seconds);
  EXPECT_EQ(a.flops_count, b.flops_count);
  EXPECT_TRUE(SameDouble(a.max_trained_flops, b.max_trained_flops));
  EXPECT_TRUE(SameDouble(a.min_trained_flops, b.min_trained_flops));
  EXPECT_TRUE(SameDouble(a.max_trained_params_tokens, b.max_trained_params_tokens));
  EXPECT_EQ(a.details, b.details);
}

TEST(FitJsonTest, RealFitSurvivesATextRoundTripAndPredictsTheSame) {
  const std::vector<Observation> runs =
      SimulatePowerLawRuns({1.8, 50.0, 0.1}, LogSpaced(1e15, 1e19, 12), 0.01, 4, 0, 0, "lstm");
  FitOptions options;
  options.threads = 2;
  options.bootstrap_resamples = 50;
  const FitResult fit = FitPowerLawCompute(runs, options);
  ASSERT_TRUE(fit.ok()) << fit.reason;

  // Through text, as the jsonb columns would carry it.
  const nlohmann::json stored = nlohmann::json::parse(FitResultToJson(fit).dump());
  EXPECT_EQ(stored["form"], "power_law_compute");
  EXPECT_EQ(stored["status"], "ok");
  EXPECT_EQ(stored["flops_count"], "exact");
  EXPECT_TRUE(stored["parameters"]["alpha"].contains("lower"));
  EXPECT_EQ(stored["details"]["law_names"], nlohmann::json({"E", "A", "alpha"}));
  const absl::StatusOr<FitResult> back = FitResultFromJson(stored);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameFit(fit, *back);

  const absl::StatusOr<LossPrediction> p1 = PredictLossAtCompute(fit, 1e21);
  const absl::StatusOr<LossPrediction> p2 = PredictLossAtCompute(*back, 1e21);
  ASSERT_TRUE(p1.ok() && p2.ok());
  EXPECT_EQ(p1->loss.estimate, p2->loss.estimate);
  EXPECT_EQ(p1->loss.lower, p2->loss.lower);
  EXPECT_EQ(p1->loss.upper, p2->loss.upper);
}

TEST(FitJsonTest, ParameterOnABoundRoundTrips) {
  // SIMULATION: losses bending down in log-log put E on its bound at 0.
  const std::vector<Observation> runs =
      SimulatePowerLawRuns({-0.1, 50.0, 0.1}, LogSpaced(1e15, 1e19, 10), 0.0, 3);
  FitOptions options;
  options.threads = 2;
  options.bootstrap_resamples = 20;
  const FitResult fit = FitPowerLawCompute(runs, options);
  ASSERT_TRUE(fit.ok()) << fit.reason;
  ASSERT_EQ(fit.FindParameter("E")->at_bound, "lower");
  const nlohmann::json stored = nlohmann::json::parse(FitResultToJson(fit).dump());
  EXPECT_EQ(stored["parameters"]["E"]["at_bound"], "lower");
  EXPECT_EQ(stored["parameters"]["E"]["bound"], 0.0);
  EXPECT_EQ(stored["parameters"]["A"]["at_bound"], "");
  EXPECT_TRUE(stored["parameters"]["A"]["bound"].is_null());
  const absl::StatusOr<FitResult> back = FitResultFromJson(stored);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameFit(fit, *back);

  // A fit stored before bounds were flagged is marked when read.
  nlohmann::json old = stored;
  for (auto& [name, p] : old["parameters"].items()) {
    p.erase("at_bound");
    p.erase("bound");
  }
  const absl::StatusOr<FitResult> marked = FitResultFromJson(old);
  ASSERT_TRUE(marked.ok()) << marked.status();
  EXPECT_EQ(marked->FindParameter("E")->at_bound, "lower");
  EXPECT_EQ(marked->FindParameter("E")->bound, 0.0);

  old["parameters"]["E"]["at_bound"] = 7;
  EXPECT_NE(FitResultFromJson(old).status().message().find("parameters.E.at_bound"),
            std::string::npos);
}

TEST(FitJsonTest, NaNsAndFailedFitsRoundTrip) {
  FitResult fit;
  fit.form = FitForm::kIsoflop;
  fit.family = "transformer";
  fit.status = FitStatus::kInsufficientData;
  fit.reason = "2 usable budgets of 5";
  fit.runs_used = 10;
  fit.details["budgets"] = nlohmann::json::array({{{"budget", 1e18}, {"used", false}}});
  fit.fit_seconds = 0.001;
  const nlohmann::json stored = nlohmann::json::parse(FitResultToJson(fit).dump());
  EXPECT_TRUE(stored["rmse_log_loss"].is_null());
  EXPECT_TRUE(stored["holdout_relative_error"].is_null());
  const absl::StatusOr<FitResult> back = FitResultFromJson(stored);
  ASSERT_TRUE(back.ok()) << back.status();
  ExpectSameFit(fit, *back);
}

TEST(FitJsonTest, ParameterOrderSurvivesReorderedKeys) {
  FitResult fit;
  fit.form = FitForm::kPowerLawCompute;
  fit.status = FitStatus::kOk;
  fit.law = {1.0, 2.0, 0.3};
  fit.parameters = {{"E", {1.0, 0.9, 1.1}}, {"A", {2.0, 1.5, 2.5}}, {"alpha", {0.3, 0.2, 0.4}}};
  const absl::StatusOr<FitResult> back = FitResultFromJson(FitResultToJson(fit));
  ASSERT_TRUE(back.ok()) << back.status();
  ASSERT_EQ(back->parameters.size(), 3u);
  EXPECT_EQ(back->parameters[0].name, "E");  // nlohmann sorts keys: A, E, alpha
  EXPECT_EQ(back->parameters[1].name, "A");
  EXPECT_EQ(back->parameters[2].name, "alpha");
}

TEST(FitJsonTest, MalformedJsonIsInvalidArgumentNamingTheKey) {
  FitResult fit;
  fit.form = FitForm::kChinchilla;
  fit.status = FitStatus::kFailed;
  nlohmann::json j = FitResultToJson(fit);
  j["form"] = "quadratic";
  absl::StatusOr<FitResult> r = FitResultFromJson(j);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("\"form\""), std::string::npos) << r.status();

  j = FitResultToJson(fit);
  j.erase("runs_used");
  r = FitResultFromJson(j);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(r.status().message().find("runs_used"), std::string::npos);

  j = FitResultToJson(fit);
  j["status"] = "ok";  // ok but without a law
  EXPECT_EQ(FitResultFromJson(j).status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(FitResultFromJson(nlohmann::json::array()).status().code(),
            absl::StatusCode::kInvalidArgument);
}

}  // namespace
}  // namespace ladder::fit
