// RefitLoop's timing rules with a FakeClock and an in-memory store: the
// debounce, the pacing, the catch-up at start, and what schedules a refit;
// and that it fits power_law_shared_e when the sweep asks for it.
// No database and no sleeps: each test runs in milliseconds.
#include "server/refit_loop.h"

#include <gtest/gtest.h>

#include "server/fake_fit_data.h"
#include "server/fit/prediction.h"
#include "server/fit/simulated_observations.h"
#include "server/stored_fit.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using enums::AttemptOutcome;
using fit::FitForm;

constexpr auto kIdle = Clock::SteadyTime::max();  // a loop with nothing due waits for this

class RefitLoopTest : public ::testing::Test {
 protected:
  RefitLoopTest() {
    data_.AddSweep(1, "grid", {"lstm"});
    data_.AddSweep(2, "grid", {"lstm", "transformer"});
  }

  std::unique_ptr<RefitLoop> Start(std::chrono::milliseconds debounce, double pacing) {
    RefitLoop::Options o;
    o.debounce = debounce;
    o.pacing = pacing;
    o.bootstrap_resamples = 0;
    o.fit_threads = 1;
    auto loop = std::make_unique<RefitLoop>(&data_, nullptr, nullptr, o, &clock_);
    loop->Start();
    EXPECT_TRUE(clock_.AwaitWaiter(kIdle)) << "the loop did not start";
    return loop;
  }

  FakeClock clock_;
  FakeFitData data_;
};

TEST_F(RefitLoopTest, SchedulesWithinTheDebounceMakeOneRefitWhenItHasPassed) {
  auto loop = Start(2s, 10);
  const auto t0 = clock_.Now();
  loop->Schedule(1);
  ASSERT_TRUE(clock_.AwaitWaiter(t0 + 2s));
  clock_.Advance(500ms);
  loop->Schedule(1);
  clock_.Advance(1s);
  loop->Schedule(1);  // later results ride along: they do not postpone the refit
  clock_.Advance(499ms);
  ASSERT_TRUE(clock_.AwaitWaiter(t0 + 2s));
  EXPECT_EQ(loop->completed(), 0) << "refitted before the debounce passed";
  EXPECT_TRUE(data_.stored().empty());

  clock_.Advance(1ms);
  ASSERT_TRUE(loop->AwaitCompleted(1));
  ASSERT_TRUE(clock_.AwaitWaiter(kIdle));  // nothing else is due
  EXPECT_EQ(loop->completed(), 1);
  // One refit: one fit per form of a grid sweep for its one family.
  EXPECT_EQ(data_.stored_sweeps(), (std::vector<int64_t>{1, 1}));
}

TEST_F(RefitLoopTest, TheNextRefitWaitsPacingTimesWhatTheLastOneTook) {
  data_.OnLoad([this] { clock_.Advance(100ms); });  // a refit takes 100 ms
  auto loop = Start(0ms, 10);
  loop->Schedule(1);
  ASSERT_TRUE(loop->AwaitCompleted(1));
  const auto t1 = clock_.Now();  // the end of the first refit
  loop->Schedule(1);
  ASSERT_TRUE(clock_.AwaitWaiter(t1 + 1s)) << "not paced to 10 x 100 ms";
  clock_.Advance(999ms);
  ASSERT_TRUE(clock_.AwaitWaiter(t1 + 1s));
  EXPECT_EQ(loop->completed(), 1);
  clock_.Advance(1ms);
  ASSERT_TRUE(loop->AwaitCompleted(2));
}

TEST_F(RefitLoopTest, PacingIsPerSweep) {
  data_.OnLoad([this] { clock_.Advance(100ms); });
  auto loop = Start(0ms, 1e6);
  loop->Schedule(1);
  ASSERT_TRUE(loop->AwaitCompleted(1));
  loop->Schedule(2);  // another sweep is not held back by sweep 1's cost
  ASSERT_TRUE(loop->AwaitCompleted(2));
}

TEST_F(RefitLoopTest, WithoutPacingTheNextRefitRunsAtOnce) {
  data_.OnLoad([this] { clock_.Advance(100ms); });
  auto loop = Start(0ms, 0);
  loop->Schedule(1);
  ASSERT_TRUE(loop->AwaitCompleted(1));
  loop->Schedule(1);
  ASSERT_TRUE(loop->AwaitCompleted(2));
}

TEST_F(RefitLoopTest, SucceededAttemptsScheduleTheirSweepAndOthersDoNot) {
  auto loop = Start(0ms, 0);
  store::AttemptEnd end;
  end.sweep_id = 1;
  for (auto outcome : {AttemptOutcome::kFailed, AttemptOutcome::kExpired, AttemptOutcome::kReleased,
                       AttemptOutcome::kCancelled}) {
    loop->OnAttemptEnded(end, outcome);
  }
  end.sweep_id = 2;
  loop->OnAttemptEnded(end, AttemptOutcome::kSucceeded);
  ASSERT_TRUE(loop->AwaitCompleted(1));
  ASSERT_TRUE(clock_.AwaitWaiter(kIdle));
  EXPECT_EQ(loop->completed(), 1);
  // 2 families x 2 forms, then power_law_shared_e for each family (the
  // default with two families).
  EXPECT_EQ(data_.stored_sweeps(), (std::vector<int64_t>{2, 2, 2, 2, 2, 2}));
}

TEST_F(RefitLoopTest, RefitsSweepsWithNewerResultsAtStart) {
  data_.SetNeedingRefit({2});
  RefitLoop::Options o;
  o.debounce = 5s;
  o.bootstrap_resamples = 0;
  RefitLoop loop(&data_, nullptr, nullptr, o, &clock_);
  const auto t0 = clock_.Now();
  loop.Start();
  ASSERT_TRUE(clock_.AwaitWaiter(t0 + 5s));  // debounced like any other
  clock_.Advance(5s);
  ASSERT_TRUE(loop.AwaitCompleted(1));
  EXPECT_EQ(data_.stored_sweeps().front(), 2);
}

TEST_F(RefitLoopTest, AnUnknownSweepIsReportedAndTheLoopGoesOn) {
  auto loop = Start(0ms, 0);
  EXPECT_EQ(loop->RefitNow(99).code(), absl::StatusCode::kNotFound);
  loop->Schedule(99);
  loop->Schedule(1);
  ASSERT_TRUE(loop->AwaitCompleted(2));
  EXPECT_EQ(data_.stored_sweeps(), (std::vector<int64_t>{1, 1}));
}

TEST_F(RefitLoopTest, StopWakesAnIdleLoop) {
  auto loop = Start(1h, 0);
  loop->Schedule(1);
  loop->Stop();  // returns without the clock moving
  EXPECT_EQ(loop->completed(), 0);
}

// SIMULATED runs on two laws sharing E = 0.8 (shared_e_fit_test.cc tests
// the fit itself; here only that the loop fits and stores it).
std::vector<fit::Observation> TwoFamiliesSharingE() {
  std::vector<fit::Observation> runs = fit::SimulatePowerLawRuns(
      {0.8, 40, 0.15}, fit::LogSpaced(1e15, 1e19, 8), 0.005, 1, 0, 0, "lstm");
  for (const fit::Observation& r : fit::SimulatePowerLawRuns(
           {0.8, 90, 0.2}, fit::LogSpaced(1e15, 1e19, 8), 0.005, 2, 0, 0, "transformer")) {
    runs.push_back(r);
  }
  return runs;
}

std::vector<StoredFit> SharedEFits(const FakeFitData& data) {
  std::vector<StoredFit> out;
  for (const StoredFit& f : data.stored()) {
    if (f.result->form == FitForm::kPowerLawSharedE) out.push_back(f);
  }
  return out;
}

TEST_F(RefitLoopTest, ASweepOfTwoFamiliesGetsASharedEFitForEachByDefault) {
  data_.SetObservations(2, TwoFamiliesSharingE());
  RefitLoop::Options o;
  o.bootstrap_resamples = 0;
  o.fit_threads = 1;
  RefitLoop loop(&data_, nullptr, nullptr, o, &clock_);
  ASSERT_TRUE(loop.RefitNow(2).ok());
  const std::vector<StoredFit> shared = SharedEFits(data_);
  ASSERT_EQ(shared.size(), 2u);
  EXPECT_EQ(shared[0].result->family, "lstm");
  EXPECT_EQ(shared[1].result->family, "transformer");
  for (const StoredFit& f : shared) {
    ASSERT_TRUE(f.result->ok()) << f.result->reason;
    EXPECT_EQ(f.result->details["shared_with"], nlohmann::json({"lstm", "transformer"}));
    EXPECT_EQ(f.result->law[0], shared[0].result->law[0]) << "E is shared";
    EXPECT_EQ(FitToProto(f).shared_with_size(), 2);
  }
  // A second refit stores the next version of each.
  ASSERT_TRUE(loop.RefitNow(2).ok());
  EXPECT_EQ(SharedEFits(data_).back().version, 2);
}

TEST_F(RefitLoopTest, TheSpecCanTurnTheSharedEFitOff) {
  data_.SetObservations(2, TwoFamiliesSharingE());
  data_.SetSpecJson(2, R"({"fit": {"shared_e": false}})");
  RefitLoop::Options o;
  o.bootstrap_resamples = 0;
  o.fit_threads = 1;
  RefitLoop loop(&data_, nullptr, nullptr, o, &clock_);
  ASSERT_TRUE(loop.RefitNow(2).ok());
  EXPECT_TRUE(SharedEFits(data_).empty());
  EXPECT_EQ(data_.stored().size(), 4u);  // the per-family forms still
}

// The dashboard's predicted loss at the target comes from the fit a compute
// prediction without a form would use: with a shared-E fit, that one.
TEST_F(RefitLoopTest, ThePredictedLossGaugeFollowsTheFormPredictionsUse) {
  data_.SetObservations(2, TwoFamiliesSharingE());
  RefitLoop::Options o;
  o.bootstrap_resamples = 0;
  o.fit_threads = 1;
  CoordinatorMetrics metrics;
  RefitLoop loop(&data_, nullptr, &metrics, o, &clock_);
  ASSERT_TRUE(loop.RefitNow(2).ok());
  const std::vector<StoredFit> shared = SharedEFits(data_);
  ASSERT_EQ(shared.size(), 2u);
  std::map<std::string, double> gauge;
  for (const auto& family : metrics.registry()->Collect()) {
    if (family.name != "ladder_predicted_loss") continue;
    for (const auto& m : family.metric) {
      for (const auto& label : m.label) {
        if (label.name == "family") gauge[label.value] = m.gauge.value;
      }
    }
  }
  for (const StoredFit& f : shared) {
    const auto want = fit::PredictLossAtCompute(*f.result, 100 * f.result->max_trained_flops);
    ASSERT_TRUE(want.ok());
    ASSERT_TRUE(gauge.count(f.result->family)) << f.result->family;
    EXPECT_DOUBLE_EQ(gauge[f.result->family], want->loss.estimate) << f.result->family;
  }
}

TEST(FitsSharedETest, TheSpecDecidesElseTwoOrMoreFamilies) {
  v1::Sweep sweep;
  sweep.add_families("lstm");
  sweep.set_spec_json("{}");
  EXPECT_FALSE(FitsSharedE(sweep)) << "one family";
  sweep.add_families("transformer");
  EXPECT_TRUE(FitsSharedE(sweep)) << "two families, the spec silent (an imported sweep)";
  sweep.set_spec_json("not json");
  EXPECT_TRUE(FitsSharedE(sweep));
  sweep.set_spec_json(R"({"fit": {"shared_e": false}})");
  EXPECT_FALSE(FitsSharedE(sweep));
  sweep.set_spec_json(R"({"fit": {"shared_e": "yes"}})");
  EXPECT_TRUE(FitsSharedE(sweep)) << "not a boolean: the default";
  sweep.clear_families();
  sweep.add_families("lstm");
  sweep.set_spec_json(R"({"fit": {"shared_e": true}})");
  EXPECT_TRUE(FitsSharedE(sweep)) << "what the spec says (the fit then says why it cannot)";
}

TEST(FormsForSweepTest, FormsFollowTheSweepKind) {
  using enums::SweepKind;
  const std::vector<fit::Observation> none;
  EXPECT_EQ(FormsForSweep(SweepKind::kLadder, none),
            (std::vector<FitForm>{FitForm::kPowerLawCompute, FitForm::kChinchilla}));
  EXPECT_EQ(FormsForSweep(SweepKind::kGrid, none),
            (std::vector<FitForm>{FitForm::kPowerLawCompute, FitForm::kChinchilla}));
  EXPECT_EQ(
      FormsForSweep(SweepKind::kIsoflop, none),
      (std::vector<FitForm>{FitForm::kPowerLawCompute, FitForm::kChinchilla, FitForm::kIsoflop}));
  EXPECT_EQ(FormsForSweep(SweepKind::kDataConstrained, none),
            (std::vector<FitForm>{FitForm::kDataConstrained, FitForm::kChinchilla}));
  EXPECT_EQ(FormsForSweep(SweepKind::kImported, none),
            (std::vector<FitForm>{FitForm::kPowerLawCompute, FitForm::kChinchilla}));
  fit::Observation with_budget;
  with_budget.budget = 1e18;
  fit::Observation with_unique;
  with_unique.unique_tokens = 1e9;
  EXPECT_EQ(FormsForSweep(SweepKind::kImported, {with_budget, with_unique}),
            (std::vector<FitForm>{FitForm::kPowerLawCompute, FitForm::kChinchilla,
                                  FitForm::kIsoflop, FitForm::kDataConstrained}));
}

}  // namespace
}  // namespace ladder
