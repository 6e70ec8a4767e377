// Backtests over in-memory fit data and a FakeClock: the answer waits off the
// RPC path and comes back "still computing" at the caller's deadline, the
// cache is per fit version and bounded, a full queue and a stop answer
// UNAVAILABLE at once. Observations are SIMULATED from a power law in
// compute (server/fit/simulated_observations.h).
#include "server/backtests.h"

#include <gtest/gtest.h>

#include <future>
#include <thread>

#include "server/fake_fit_data.h"
#include "server/fit/simulated_observations.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;

// Holds every LoadObservations (the start of a computation) until opened.
class Gate {
 public:
  void Pass() {
    std::unique_lock<std::mutex> lock(mu_);
    ++arrived_;
    cv_.notify_all();
    cv_.wait(lock, [&] { return open_; });
  }
  void Open() {
    std::lock_guard<std::mutex> lock(mu_);
    open_ = true;
    cv_.notify_all();
  }
  // Blocks until `n` computations have reached the gate.
  void AwaitArrivals(int n) {
    std::unique_lock<std::mutex> lock(mu_);
    cv_.wait(lock, [&] { return arrived_ >= n; });
  }

 private:
  std::mutex mu_;
  std::condition_variable cv_;
  bool open_ = false;
  int arrived_ = 0;
};

class BacktestsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    fit::PowerLawInCompute law;
    law.E = 1.5;
    law.A = 40;
    law.alpha = 0.09;
    for (int64_t sweep : {1, 2, 3}) {
      data_.AddSweep(sweep, "grid", {"transformer"});
      data_.SetObservations(sweep, fit::SimulatePowerLawRuns(law, fit::LogSpaced(1e14, 1e16, 6),
                                                             0.003, sweep, 0, 0, "transformer"));
      AddFitVersion(sweep);
    }
  }
  void AddFitVersion(int64_t sweep) {
    fit::FitResult f;
    f.family = "transformer";
    f.form = fit::FitForm::kPowerLawCompute;
    f.status = fit::FitStatus::kOk;
    data_.AddFit(sweep, f);
  }
  std::unique_ptr<Backtests> Make(Backtests::Options o = {}) {
    o.fit_threads = 1;
    o.bootstrap_resamples = 20;
    auto b = std::make_unique<Backtests>(&data_, &data_, nullptr, o, &clock_);
    b->Start();
    return b;
  }
  static v1::BacktestRequest Request(int64_t sweep) {
    v1::BacktestRequest r;
    r.set_sweep_id(sweep);
    r.set_form("power_law_compute");
    return r;
  }

  FakeFitData data_;
  FakeClock clock_;
  Gate gate_;
};

TEST_F(BacktestsTest, ACallerOutOfTimeIsToldToRetryAndTheRetryGetsTheSameComputation) {
  data_.OnLoad([&] { gate_.Pass(); });
  auto backtests = Make();
  const auto t0 = clock_.Now();
  auto first = std::async(std::launch::async, [&] { return backtests->Run(Request(1), 10s); });
  // It waits until 1 s before its 10 s deadline, so the answer reaches it.
  ASSERT_TRUE(clock_.AwaitWaiter(t0 + 9s));
  clock_.Advance(9s);
  const auto late = first.get();
  ASSERT_EQ(late.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(late.status().message(), "backtest of sweep 1 still computing; retry");

  auto retry = std::async(std::launch::async, [&] { return backtests->Run(Request(1), 60s); });
  ASSERT_TRUE(clock_.AwaitWaiter(t0 + 9s + 59s));  // the retry waits for the job under way
  gate_.Open();
  const auto answer = retry.get();
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_FALSE(answer->cached());
  EXPECT_GT(answer->cuts_size(), 0);
  EXPECT_EQ(backtests->computed(), 1) << "the retry joined the computation under way";
}

TEST_F(BacktestsTest, TheCacheIsPerFitVersionAndBounded) {
  Backtests::Options o;
  o.cache_entries = 2;
  auto backtests = Make(o);
  for (int64_t sweep : {1, 2, 3}) ASSERT_TRUE(backtests->Run(Request(sweep), 60s).ok());
  EXPECT_EQ(backtests->computed(), 3);
  auto three = backtests->Run(Request(3), 60s);
  ASSERT_TRUE(three.ok());
  EXPECT_TRUE(three->cached());
  ASSERT_EQ(three->fit_ids_size(), 1);
  EXPECT_EQ(three->fit_ids(0), 3) << "the version it was computed for";
  // Sweep 1 was the least recently used of three in a cache of two.
  auto one = backtests->Run(Request(1), 60s);
  ASSERT_TRUE(one.ok());
  EXPECT_FALSE(one->cached());
  EXPECT_EQ(backtests->computed(), 4);
  // A new fit version of sweep 3: recomputed for it.
  AddFitVersion(3);
  auto newer = backtests->Run(Request(3), 60s);
  ASSERT_TRUE(newer.ok());
  EXPECT_FALSE(newer->cached());
  ASSERT_EQ(newer->fit_ids_size(), 1);
  EXPECT_EQ(newer->fit_ids(0), 4);
  EXPECT_EQ(backtests->computed(), 5);
}

TEST_F(BacktestsTest, AFullQueueAndAStopAnswerUnavailableAtOnce) {
  data_.OnLoad([&] { gate_.Pass(); });
  Backtests::Options o;
  o.max_queued = 1;
  auto backtests = Make(o);
  auto running = std::async(std::launch::async, [&] { return backtests->Run(Request(1), 60s); });
  gate_.AwaitArrivals(1);  // sweep 1 is being computed: the queue is empty
  auto queued = std::async(std::launch::async, [&] { return backtests->Run(Request(2), 60s); });
  for (int i = 0; i < 5000 && clock_.waiters() < 2; ++i) std::this_thread::sleep_for(1ms);
  ASSERT_EQ(clock_.waiters(), 2) << "sweep 2 is queued behind sweep 1";
  const auto full = backtests->Run(Request(3), 60s);
  EXPECT_EQ(full.status().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(full.status().message(),
            "backtest of sweep 3 not queued: too many backtests waiting; retry");

  auto stop = std::async(std::launch::async, [&] { backtests->Stop(); });
  EXPECT_EQ(queued.get().status().message(), "backtest of sweep 2 not served: stopping");
  EXPECT_EQ(running.get().status().message(), "backtest of sweep 1 not served: stopping");
  gate_.Open();  // the computation under way finishes; Stop joins its thread
  stop.get();
  EXPECT_EQ(backtests->Run(Request(1), 60s).status().code(), absl::StatusCode::kUnavailable);
}

TEST_F(BacktestsTest, RequestsAreCheckedBeforeAnythingIsComputed) {
  auto backtests = Make();
  EXPECT_EQ(backtests->Run(Request(9), 60s).status().code(), absl::StatusCode::kNotFound);
  v1::BacktestRequest family = Request(1);
  family.set_family("gru");
  EXPECT_EQ(backtests->Run(family, 60s).status().message(),
            "family: sweep 1 has no family 'gru' (it has transformer)");
  v1::BacktestRequest isoflop = Request(1);
  isoflop.set_form("isoflop");
  EXPECT_EQ(backtests->Run(isoflop, 60s).status().code(), absl::StatusCode::kInvalidArgument);
  v1::BacktestRequest unset = Request(1);
  unset.set_form("");
  auto answer = backtests->Run(unset, 60s);
  ASSERT_TRUE(answer.ok()) << answer.status();
  EXPECT_EQ(answer->form(), "power_law_compute") << "no shared-E fit: the compute law";
  EXPECT_EQ(backtests->computed(), 1);
}

}  // namespace
}  // namespace ladder
