// The Scheduler's rules with an in-memory SchedulerStore and a FakeClock:
// the maintenance pass, its pacing, what an ended attempt triggers, and
// registration's validation. No database and no sleeps.
#include "server/scheduler.h"

#include <gtest/gtest.h>
#include <prometheus/registry.h>

#include <map>

namespace ladder {
namespace {

using namespace std::chrono_literals;
using enums::AttemptOutcome;

// Records every call; answers what the test set.
class FakeSchedulerStore final : public SchedulerStore {
 public:
  absl::StatusOr<int64_t> RegisterWorker(const v1::RegisterWorkerRequest&) override { return 42; }
  std::chrono::milliseconds lease_ttl() const override { return 30s; }
  absl::StatusOr<v1::LeaseRunResponse> LeaseRun(int64_t, int32_t) override {
    return v1::LeaseRunResponse{};
  }
  absl::StatusOr<v1::HeartbeatResponse> Heartbeat(const v1::HeartbeatRequest&) override {
    return v1::HeartbeatResponse{};
  }
  absl::StatusOr<v1::ReportProgressResponse> ReportProgress(
      const v1::ReportProgressRequest&) override {
    return v1::ReportProgressResponse{};
  }
  absl::StatusOr<store::AttemptEnd> CompleteAttempt(const v1::CompleteAttemptRequest&) override {
    return end;
  }
  absl::StatusOr<store::AttemptEnd> FailAttempt(const v1::FailAttemptRequest&) override {
    return end;
  }
  absl::StatusOr<store::LeaseStore::Expired> ExpireLeases() override {
    std::lock_guard<std::mutex> lock(mu);
    ++passes;
    if (!expire_error.ok()) return expire_error;
    return expired;
  }
  absl::StatusOr<int> MarkSilentWorkersGone(std::chrono::milliseconds silence) override {
    std::lock_guard<std::mutex> lock(mu);
    gone_after.push_back(silence);
    return 0;
  }
  absl::Status FinishSweepIfDone(int64_t sweep_id) override {
    std::lock_guard<std::mutex> lock(mu);
    finished.push_back(sweep_id);
    return finish_error;
  }
  absl::Status FinishDoneSweeps() override {
    std::lock_guard<std::mutex> lock(mu);
    ++finish_all;
    return absl::OkStatus();
  }
  absl::StatusOr<SchedulingSnapshot> ReadSnapshot() override {
    std::lock_guard<std::mutex> lock(mu);
    ++snapshots;
    return SchedulingSnapshot{};
  }

  int Passes() {
    std::lock_guard<std::mutex> lock(mu);
    return passes;
  }

  std::mutex mu;
  store::AttemptEnd end;
  store::LeaseStore::Expired expired;
  absl::Status expire_error, finish_error;
  int passes = 0, finish_all = 0, snapshots = 0;
  std::vector<int64_t> finished;
  std::vector<std::chrono::milliseconds> gone_after;
};

class RecordingObserver final : public AttemptObserver {
 public:
  void OnAttemptEnded(const store::AttemptEnd& end, AttemptOutcome outcome) override {
    seen.emplace_back(end.run_id, outcome);
  }
  std::vector<std::pair<int64_t, AttemptOutcome>> seen;
};

// ladder_attempts_ended_total{outcome=...}, summed over reasons.
double AttemptsEnded(CoordinatorMetrics& metrics, const std::string& outcome) {
  double n = 0;
  for (const auto& family : metrics.registry()->Collect()) {
    if (family.name != "ladder_attempts_ended_total") continue;
    for (const auto& m : family.metric) {
      for (const auto& l : m.label) {
        if (l.name == "outcome" && l.value == outcome) n += m.counter.value;
      }
    }
  }
  return n;
}

Scheduler::Options Opts() {
  Scheduler::Options o;
  o.maintenance_interval = 1s;
  o.worker_gone_after = 90s;
  return o;
}

TEST(SchedulerTest, MaintenancePassEndsTouchedSweepsMarksSilentWorkersAndFinishesDoneSweeps) {
  FakeSchedulerStore store;
  store.expired.attempts = 3;
  store.expired.sweeps = {7, 8};
  CoordinatorMetrics metrics;
  FakeClock clock;
  Scheduler scheduler(&store, &metrics, Opts(), &clock);
  ASSERT_TRUE(scheduler.MaintainOnce().ok());
  EXPECT_EQ(store.finished, (std::vector<int64_t>{7, 8}));
  EXPECT_EQ(store.gone_after, (std::vector<std::chrono::milliseconds>{90s}));
  EXPECT_EQ(store.finish_all, 1);
  EXPECT_EQ(store.snapshots, 1);
  EXPECT_EQ(AttemptsEnded(metrics, "expired"), 3);
}

TEST(SchedulerTest, ALeaseNamingADeviceTwiceOrTooManyIsRefusedAloneNamingTheField) {
  FakeSchedulerStore store;
  FakeClock clock;
  Scheduler scheduler(&store, nullptr, Opts(), &clock);
  v1::LeaseRunRequest twice, many, fine;
  for (int d : {0, 1, 0}) twice.add_device_indexes(d);
  for (int d = 0; d < 65; ++d) many.add_device_indexes(d);
  fine.add_device_indexes(0);
  fine.add_device_indexes(1);
  auto r = scheduler.LeaseBatch({&twice, &many, &fine});
  ASSERT_EQ(r.size(), 3u);
  EXPECT_EQ(r[0].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r[0].status().message()).find("device_indexes[2]"), std::string::npos)
      << r[0].status();
  EXPECT_EQ(r[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r[1].status().message()).find("device_indexes: 65"), std::string::npos)
      << r[1].status();
  EXPECT_TRUE(r[2].ok()) << r[2].status();
}

TEST(SchedulerTest, MaintenancePassWithoutMetricsReadsNoSnapshot) {
  FakeSchedulerStore store;
  FakeClock clock;
  Scheduler scheduler(&store, nullptr, Opts(), &clock);
  ASSERT_TRUE(scheduler.MaintainOnce().ok());
  EXPECT_EQ(store.snapshots, 0);
  EXPECT_EQ(store.finish_all, 1);
}

TEST(SchedulerTest, MaintenancePassStopsAtTheFirstError) {
  FakeSchedulerStore store;
  store.expire_error = absl::UnavailableError("database down");
  FakeClock clock;
  Scheduler scheduler(&store, nullptr, Opts(), &clock);
  EXPECT_EQ(scheduler.MaintainOnce().code(), absl::StatusCode::kUnavailable);
  EXPECT_EQ(store.finish_all, 0);
  EXPECT_TRUE(store.gone_after.empty());

  store.expire_error = absl::OkStatus();
  store.expired.sweeps = {7};
  store.finish_error = absl::AbortedError("conflict");
  EXPECT_EQ(scheduler.MaintainOnce().code(), absl::StatusCode::kAborted);
  EXPECT_EQ(store.finish_all, 0);
}

TEST(SchedulerTest, TheLoopRunsOnePassPerMaintenanceInterval) {
  FakeSchedulerStore store;
  FakeClock clock;
  Scheduler scheduler(&store, nullptr, Opts(), &clock);
  const auto t0 = clock.Now();
  scheduler.Start();
  ASSERT_TRUE(clock.AwaitWaiter(t0 + 1s));
  EXPECT_EQ(store.Passes(), 1) << "one pass at start";
  clock.Advance(999ms);
  ASSERT_TRUE(clock.AwaitWaiter(t0 + 1s));
  EXPECT_EQ(store.Passes(), 1);
  clock.Advance(1ms);
  ASSERT_TRUE(clock.AwaitWaiter(t0 + 2s));
  EXPECT_EQ(store.Passes(), 2);
  clock.Advance(10s);  // one wake-up, one pass: missed intervals do not pile up
  ASSERT_TRUE(clock.AwaitWaiter(t0 + 12s));
  EXPECT_EQ(store.Passes(), 3);
  scheduler.Stop();  // wakes the loop without the clock moving
}

TEST(SchedulerTest, ACompletionTellsObserversAndEndsTheSweepWhenItMayBeDone) {
  FakeSchedulerStore store;
  store.end.run_id = 5;
  store.end.sweep_id = 9;
  CoordinatorMetrics metrics;
  FakeClock clock;
  Scheduler scheduler(&store, &metrics, Opts(), &clock);
  RecordingObserver a, b;
  scheduler.AddObserver(&a);
  scheduler.AddObserver(&b);
  ASSERT_TRUE(scheduler.Complete(v1::CompleteAttemptRequest{}).ok());
  EXPECT_EQ(store.finished, (std::vector<int64_t>{9}));
  EXPECT_EQ(a.seen,
            (std::vector<std::pair<int64_t, AttemptOutcome>>{{5, AttemptOutcome::kSucceeded}}));
  EXPECT_EQ(b.seen, a.seen);
  EXPECT_EQ(AttemptsEnded(metrics, "succeeded"), 1);

  store.end.sweep_may_be_done = false;  // another run of the sweep is queued
  ASSERT_TRUE(scheduler.Complete(v1::CompleteAttemptRequest{}).ok());
  EXPECT_EQ(store.finished.size(), 1u);
  EXPECT_EQ(a.seen.size(), 2u);

  store.end.already_recorded = true;  // a repeat: nothing happens again
  auto again = scheduler.Complete(v1::CompleteAttemptRequest{});
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_recorded());
  EXPECT_EQ(a.seen.size(), 2u);
  EXPECT_EQ(AttemptsEnded(metrics, "succeeded"), 2);
}

TEST(SchedulerTest, AFailureIsReleasedCancelledOrFailedByItsReason) {
  FakeSchedulerStore store;
  store.end.run_id = 5;
  FakeClock clock;
  Scheduler scheduler(&store, nullptr, Opts(), &clock);
  RecordingObserver o;
  scheduler.AddObserver(&o);
  for (const char* reason : {"drained", "cancelled", "crashed", "bad_config"}) {
    v1::FailAttemptRequest req;
    req.set_reason(reason);
    ASSERT_TRUE(scheduler.Fail(req).ok());
  }
  std::vector<AttemptOutcome> outcomes;
  for (const auto& [run, outcome] : o.seen) outcomes.push_back(outcome);
  EXPECT_EQ(outcomes,
            (std::vector<AttemptOutcome>{AttemptOutcome::kReleased, AttemptOutcome::kCancelled,
                                         AttemptOutcome::kFailed, AttemptOutcome::kFailed}));
}

TEST(SchedulerTest, RegistrationNamesTheBadFieldAndAnswersTheStoresTtl) {
  FakeSchedulerStore store;
  FakeClock clock;
  Scheduler::Options o = Opts();
  o.heartbeat_interval = 5s;
  Scheduler scheduler(&store, nullptr, o, &clock);
  v1::RegisterWorkerRequest req;
  EXPECT_NE(scheduler.Register(req).status().message().find("name"), absl::string_view::npos);
  req.set_name("w");
  EXPECT_NE(scheduler.Register(req).status().message().find("devices"), absl::string_view::npos);
  auto* d = req.add_devices();
  d->set_kind("tpu");
  d->set_memory_bytes(1);
  EXPECT_NE(scheduler.Register(req).status().message().find("devices[0].kind"),
            absl::string_view::npos);
  d->set_kind("cpu");
  auto ok = scheduler.Register(req);
  ASSERT_TRUE(ok.ok()) << ok.status();
  EXPECT_EQ(ok->worker_id(), 42);
  EXPECT_EQ(ok->lease_ttl_ms(), 30000);
  EXPECT_EQ(ok->heartbeat_interval_ms(), 5000);
}

}  // namespace
}  // namespace ladder
