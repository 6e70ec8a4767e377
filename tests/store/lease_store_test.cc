// LeaseStore against a real PostgreSQL: leasing (races, priority, device
// fit), expiry, heartbeats, completion and failure semantics, progress and
// the loss curve, worker registration, and hostile results.
#include <gtest/gtest.h>

#include <atomic>
#include <cmath>
#include <cstdlib>
#include <iomanip>
#include <limits>
#include <map>
#include <mutex>
#include <nlohmann/json.hpp>
#include <pqxx/pqxx>
#include <set>
#include <sstream>
#include <thread>
#include <vector>

#include "common/protocol/trainer_events.h"
#include "server/store/worker_store.h"
#include "tests/store/store_fixture.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using testing::AheadOfTheDatabase;
using testing::StoreTest;

v1::HeartbeatRequest HeartbeatFor(int64_t worker, const v1::Lease& l) {
  v1::HeartbeatRequest hb;
  hb.set_worker_id(worker);
  auto* a = hb.add_attempts();
  a->set_attempt_id(l.attempt_id());
  a->set_lease_token(l.lease_token());
  return hb;
}

TEST_F(StoreTest, TwoWorkersRacingForOneRunNeverBothGetIt) {
  CreateSweep(1);
  constexpr int kWorkers = 8;
  std::vector<int64_t> ids;
  for (int i = 0; i < kWorkers; ++i) ids.push_back(Register("w" + std::to_string(i)));
  auto pool = MakePool(kWorkers);
  store::LeaseStore leases(pool.get(), store::LeaseSettings{});
  std::atomic<int> granted{0};
  std::atomic<int> errors{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < kWorkers; ++i) {
    threads.emplace_back([&, i] {
      auto r = leases.LeaseRun(ids[i], 0);
      if (!r.ok())
        ++errors;
      else if (r->granted())
        ++granted;
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(errors.load(), 0);
  EXPECT_EQ(granted.load(), 1);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts"), "1");
}

TEST_F(StoreTest, ManyWorkersDrainAQueueWithEachRunLeasedExactlyOnce) {
  CreateSweep(60);
  constexpr int kWorkers = 6;
  std::vector<int64_t> ids;
  for (int i = 0; i < kWorkers; ++i) ids.push_back(Register("w" + std::to_string(i)));
  auto pool = MakePool(kWorkers);
  store::LeaseStore leases(pool.get(), store::LeaseSettings{});
  std::mutex mu;
  std::multiset<int64_t> leased;
  std::vector<std::thread> threads;
  for (int i = 0; i < kWorkers; ++i) {
    threads.emplace_back([&, i] {
      for (;;) {
        auto r = leases.LeaseRun(ids[i], 0);
        ASSERT_TRUE(r.ok()) << r.status();
        if (!r->granted()) return;
        {
          std::lock_guard<std::mutex> lock(mu);
          leased.insert(r->lease().run_id());
        }
        // End the attempt for good (not retried), freeing the device.
        v1::FailAttemptRequest end;
        end.set_attempt_id(r->lease().attempt_id());
        end.set_lease_token(r->lease().lease_token());
        end.set_reason("bad_config");
        ASSERT_TRUE(leases.FailAttempt(end).ok());
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(leased.size(), 60u);
  EXPECT_EQ(std::set<int64_t>(leased.begin(), leased.end()).size(), 60u)
      << "a run was leased twice";
}

TEST_F(StoreTest, LeasesFollowPriorityThenAge) {
  const int64_t low = CreateSweep(2, 3, 0);
  const int64_t high = CreateSweep(2, 3, 10);
  const int64_t w = Register("w");
  EXPECT_EQ(MustLease(w).sweep_id(), high);
  EXPECT_EQ(MustLease(w).sweep_id(), high);
  v1::Lease third = MustLease(w);
  EXPECT_EQ(third.sweep_id(), low);
  EXPECT_EQ(db_.Query("SELECT ordinal FROM runs WHERE id = " + std::to_string(third.run_id())),
            "0");
}

TEST_F(StoreTest, ARunIsNotLeasedToADeviceTooSmallForIt) {
  CreateSweep(1);
  const int64_t mem = std::stoll(db_.Query("SELECT memory_bytes FROM runs"));
  const int64_t small = Register("small", mem - 1);
  const int64_t big = Register("big", mem);
  auto r = leases_->LeaseRun(small, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->granted());
  EXPECT_TRUE(leases_->LeaseRun(big, 0)->granted());
}

TEST_F(StoreTest, LeaseConfigCarriesTheRunIdentity) {
  CreateSweep(1);
  v1::Lease l = MustLease(Register("w"));
  EXPECT_EQ(l.attempt_number(), 1);
  EXPECT_EQ(l.lease_token().size(), 32u);
  auto config = nlohmann::json::parse(l.config_json());
  EXPECT_EQ(config["run_id"], l.run_id());
  EXPECT_EQ(config["attempt"], 1);
  EXPECT_EQ(config["family"], "lstm");
}

TEST_F(StoreTest, UnknownWorkerOrDeviceIsNotFound) {
  CreateSweep(1);
  EXPECT_EQ(leases_->LeaseRun(424242, 0).status().code(), absl::StatusCode::kNotFound);
  const int64_t w = Register("w");
  auto r = leases_->LeaseRun(w, kDevices);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(r.status().message()).find("device_index"), std::string::npos);
}

TEST_F(StoreTest, ALeaseIsLiveUntilItsTtlAndExpiredFromIt) {
  store::LeaseSettings s;
  s.ttl = 30s;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(1);
  auto l = leases.LeaseRun(Register("w"), 0);
  ASSERT_TRUE(l.ok() && l->granted());
  const int64_t now_ms =
      std::chrono::duration_cast<std::chrono::milliseconds>(clock.WallNow().time_since_epoch())
          .count();
  // From the store's clock (an hour ahead of the database's), to the
  // millisecond (the database rounds its microseconds).
  EXPECT_NEAR(l->lease().expires_unix_ms(), now_ms + 30000, 1);
  clock.Advance(30s - 1ms);
  EXPECT_EQ(leases.ExpireLeases()->attempts, 0);
  EXPECT_EQ(db_.Query("SELECT outcome IS NULL FROM attempts"), "t");
  clock.Advance(1ms);
  EXPECT_EQ(leases.ExpireLeases()->attempts, 1);
  EXPECT_EQ(db_.Query("SELECT outcome || ':' || reason FROM attempts"), "expired:lease_expired");
  EXPECT_EQ(db_.Query("SELECT state FROM runs"), "queued");
}

TEST_F(StoreTest, AFailedRunWaitsOutItsBackOffWhichDoublesUpToTheCap) {
  store::LeaseSettings s;
  s.retry_backoff = 1s;
  s.max_backoff = 3s;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(1, /*max_attempts=*/10);
  const int64_t w = Register("w");
  auto l = leases.LeaseRun(w, 0);
  for (auto backoff : {1000ms, 2000ms, 3000ms, 3000ms}) {
    ASSERT_TRUE(l.ok() && l->granted());
    v1::FailAttemptRequest fail;
    fail.set_attempt_id(l->lease().attempt_id());
    fail.set_lease_token(l->lease().lease_token());
    fail.set_reason("crashed");
    auto end = leases.FailAttempt(fail);
    ASSERT_TRUE(end.ok() && end->will_retry) << end.status();
    clock.Advance(backoff - 1ms);
    auto early = leases.LeaseRun(w, 0);
    ASSERT_TRUE(early.ok());
    EXPECT_FALSE(early->granted()) << "leased before its " << backoff.count() << " ms back-off";
    clock.Advance(1ms);
    l = leases.LeaseRun(w, 0);
    EXPECT_TRUE(l.ok() && l->granted())
        << "not leased after its " << backoff.count() << " ms back-off";
  }
}

TEST_F(StoreTest, ExpiredLeaseIsGrantedToAnotherWorker) {
  store::LeaseSettings s;
  s.ttl = 200ms;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(1);
  const int64_t w1 = Register("w1"), w2 = Register("w2");
  auto first = leases.LeaseRun(w1, 0);
  ASSERT_TRUE(first.ok() && first->granted());
  EXPECT_FALSE(leases.LeaseRun(w2, 0)->granted());
  clock.Advance(200ms);
  auto touched = leases.ExpireLeases();
  ASSERT_TRUE(touched.ok());
  EXPECT_EQ(touched->sweeps.size(), 1u);
  EXPECT_EQ(touched->attempts, 1);
  auto second = leases.LeaseRun(w2, 0);
  ASSERT_TRUE(second.ok() && second->granted());
  EXPECT_EQ(second->lease().run_id(), first->lease().run_id());
  EXPECT_EQ(second->lease().attempt_number(), 2);
  EXPECT_EQ(db_.Query("SELECT outcome || ':' || reason FROM attempts WHERE number = 1"),
            "expired:lease_expired");
}

TEST_F(StoreTest, HeartbeatKeepsALeaseAlive) {
  store::LeaseSettings s;
  s.ttl = 300ms;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(1);
  const int64_t w = Register("w");
  auto l = leases.LeaseRun(w, 0);
  for (int i = 0; i < 6; ++i) {
    clock.Advance(299ms);  // six times past the first deadline, each within a ttl
    auto r = leases.Heartbeat(HeartbeatFor(w, l->lease()));
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->revoked_attempt_ids_size(), 0);
    EXPECT_EQ(leases.ExpireLeases()->attempts, 0);
  }
  EXPECT_EQ(db_.Query("SELECT outcome IS NULL FROM attempts"), "t");
  clock.Advance(300ms);  // no heartbeat for a ttl
  EXPECT_EQ(leases.ExpireLeases()->attempts, 1);
}

TEST_F(StoreTest, StaleCompletionIsRefusedAndNeverOverwritesTheResult) {
  store::LeaseSettings s;
  s.ttl = 150ms;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(1);
  const int64_t w1 = Register("w1"), w2 = Register("w2");
  v1::Lease old = leases.LeaseRun(w1, 0)->lease();
  clock.Advance(150ms);
  ASSERT_TRUE(leases.ExpireLeases().ok());
  v1::Lease current = leases.LeaseRun(w2, 0)->lease();
  ASSERT_TRUE(Complete(current, 2.5).ok());
  auto late = Complete(old, 9.0);
  EXPECT_EQ(late.status().code(), absl::StatusCode::kFailedPrecondition) << late.status();
  EXPECT_EQ(db_.Query("SELECT final_eval_loss FROM runs"), "2.5");
  EXPECT_EQ(db_.Query("SELECT succeeded_attempt_id FROM runs"),
            std::to_string(current.attempt_id()));
}

TEST_F(StoreTest, RepeatedCompletionIsAcknowledgedButNotReapplied) {
  CreateSweep(1);
  v1::Lease l = MustLease(Register("w"));
  auto first = Complete(l, 3.0);
  ASSERT_TRUE(first.ok());
  EXPECT_FALSE(first->already_recorded);
  auto again = Complete(l, 4.0);
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_recorded);
  EXPECT_EQ(db_.Query("SELECT final_eval_loss FROM runs"), "3");
}

TEST_F(StoreTest, WrongLeaseTokenIsPermissionDenied) {
  CreateSweep(1);
  v1::Lease l = MustLease(Register("w"));
  l.set_lease_token("0000");
  EXPECT_EQ(Complete(l, 1.0).status().code(), absl::StatusCode::kPermissionDenied);
  EXPECT_EQ(Fail(l, "crashed").status().code(), absl::StatusCode::kPermissionDenied);
}

TEST_F(StoreTest, ResultWithoutAFiniteLossIsInvalid) {
  CreateSweep(1);
  v1::Lease l = MustLease(Register("w"));
  v1::CompleteAttemptRequest req;
  req.set_attempt_id(l.attempt_id());
  req.set_lease_token(l.lease_token());
  req.set_result_json("{\"final_eval_loss\": null}");
  auto r = leases_->CompleteAttempt(req);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(r.status().message()).find("final_eval_loss"), std::string::npos);
  // The attempt is failed (not left live for ever) and the run retried.
  EXPECT_EQ(db_.Query("SELECT outcome || ':' || reason FROM attempts"), "failed:bad_result");
  EXPECT_EQ(db_.Query("SELECT state || ':' || failures FROM runs"), "queued:1");
}

TEST_F(StoreTest, ExpiredAttemptMayStillCompleteWhileItsRunWaitsInTheQueue) {
  store::LeaseSettings s;
  s.ttl = 100ms;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(1);
  const int64_t w = Register("w");
  v1::Lease l = leases.LeaseRun(w, 0)->lease();
  clock.Advance(100ms);
  ASSERT_EQ(leases.ExpireLeases()->attempts, 1);
  EXPECT_EQ(db_.Query("SELECT state FROM runs"), "queued");
  auto end = Complete(l, 2.75);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(db_.Query("SELECT state || ':' || final_eval_loss FROM runs"), "succeeded:2.75");
  EXPECT_EQ(db_.Query("SELECT outcome FROM attempts"), "succeeded");
  EXPECT_FALSE(leases.LeaseRun(w, 0)->granted());
}

TEST_F(StoreTest, LiveLeasesGetOneMoreTtlWhenACoordinatorStarts) {
  store::LeaseSettings s;
  s.ttl = 300ms;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(1);
  leases.LeaseRun(Register("w"), 0);
  // The lease ran out while no coordinator was running...
  clock.Advance(1min);
  // ...and a starting coordinator gives it another ttl before reclaiming anything.
  ASSERT_EQ(*leases.ExtendLiveLeasesForRestart(), 1);
  EXPECT_EQ(leases.ExpireLeases()->attempts, 0);
  clock.Advance(299ms);
  EXPECT_EQ(leases.ExpireLeases()->attempts, 0);
  clock.Advance(1ms);
  EXPECT_EQ(leases.ExpireLeases()->attempts, 1);
}

TEST_F(StoreTest, FailedRunIsRetriedUntilMaxAttemptsThenFailsTheSweep) {
  const int64_t sweep = CreateSweep(1, /*max_attempts=*/2);
  const int64_t w = Register("w");
  auto first = Fail(MustLease(w), "crashed");
  ASSERT_TRUE(first.ok());
  EXPECT_TRUE(first->will_retry);
  auto second = Fail(MustLease(w), "crashed");
  ASSERT_TRUE(second.ok());
  EXPECT_FALSE(second->will_retry);
  EXPECT_TRUE(second->run_ended);
  EXPECT_EQ(db_.Query("SELECT state || ':' || failures FROM runs"), "failed:2");
  ASSERT_TRUE(sweeps_->FinishSweepIfDone(sweep).ok());
  EXPECT_EQ(sweeps_->GetSweep(sweep)->state(), v1::SWEEP_STATE_FAILED);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome = 'failed'"), "2");
}

TEST_F(StoreTest, BadConfigIsNotRetried) {
  CreateSweep(1, 5);
  auto end = Fail(MustLease(Register("w")), "bad_config");
  ASSERT_TRUE(end.ok());
  EXPECT_FALSE(end->will_retry);
  EXPECT_EQ(db_.Query("SELECT state FROM runs"), "failed");
}

TEST_F(StoreTest, DrainedAttemptIsRequeuedWithoutCountingAFailure) {
  CreateSweep(1, 1);
  const int64_t w = Register("w");
  auto end = Fail(MustLease(w), "drained");
  ASSERT_TRUE(end.ok());
  EXPECT_TRUE(end->will_retry);
  EXPECT_EQ(db_.Query("SELECT state || ':' || failures FROM runs"), "queued:0");
  EXPECT_EQ(db_.Query("SELECT outcome FROM attempts"), "released");
  EXPECT_EQ(MustLease(w).attempt_number(), 2);
}

TEST_F(StoreTest, RepeatedFailureIsAcknowledgedOnce) {
  CreateSweep(1, 5);
  v1::Lease l = MustLease(Register("w"));
  ASSERT_TRUE(Fail(l, "crashed").ok());
  auto again = Fail(l, "crashed");
  ASSERT_TRUE(again.ok());
  EXPECT_TRUE(again->already_recorded);
  EXPECT_EQ(db_.Query("SELECT failures FROM runs"), "1");
}

TEST_F(StoreTest, ProgressStoresTheCurveAndAResumedAttemptContinuesIt) {
  store::LeaseSettings s;
  s.ttl = 150ms;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(1);
  const int64_t w = Register("w");
  v1::Lease first = leases.LeaseRun(w, 0)->lease();
  auto report = [&](const v1::Lease& l, int from, int to, double loss) {
    v1::ReportProgressRequest req;
    req.set_attempt_id(l.attempt_id());
    req.set_lease_token(l.lease_token());
    req.set_started_json("{\"event\":\"started\",\"trainer\":\"ladder-sim\"}");
    for (int step = from; step <= to; ++step) {
      v1::CurvePoint* p = req.add_points();
      p->set_step(step);
      p->set_tokens(step * 4096);
      p->set_flops(step * 1e9);
      p->set_train_loss(loss);
      p->set_tokens_per_second(100);
    }
    return leases.ReportProgress(req);
  };
  ASSERT_FALSE(report(first, 1, 10, 5.0)->revoked());
  EXPECT_EQ(db_.Query("SELECT state FROM runs"), "running");
  clock.Advance(149ms);
  EXPECT_EQ(leases.ExpireLeases()->attempts, 0) << "a progress report extends the lease";
  clock.Advance(150ms);
  ASSERT_TRUE(leases.ExpireLeases().ok());
  EXPECT_TRUE(report(first, 11, 12, 5.0)->revoked()) << "an expired lease must not write";
  v1::Lease second = leases.LeaseRun(w, 0)->lease();
  // The second attempt resumed from a checkpoint at step 8.
  ASSERT_FALSE(report(second, 9, 20, 4.0)->revoked());
  EXPECT_EQ(db_.Query("SELECT count(*) FROM curve_points"), "20");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM curve_points WHERE attempt_id = " +
                      std::to_string(second.attempt_id())),
            "12");
  EXPECT_EQ(db_.Query("SELECT tokens_done FROM runs"), std::to_string(20 * 4096));
  auto run = sweeps_->GetRun(second.run_id(), true);
  ASSERT_TRUE(run.ok());
  ASSERT_EQ(run->curve_size(), 20);
  for (int i = 0; i < 20; ++i) EXPECT_EQ(run->curve(i).step(), i + 1) << "gap in the curve";
  EXPECT_EQ(run->attempt_history_size(), 2);
}

TEST_F(StoreTest, ReRegisteringWorkerLosesItsLiveAttempts) {
  CreateSweep(1);
  const int64_t w = Register("w");
  MustLease(w);
  EXPECT_EQ(Register("w"), w) << "a worker keeps its id across restarts";
  EXPECT_EQ(db_.Query("SELECT outcome || ':' || reason FROM attempts"), "expired:worker_restarted");
  EXPECT_EQ(db_.Query("SELECT state FROM runs"), "queued");
}

TEST_F(StoreTest, SilentWorkersAreMarkedGone) {
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), store::LeaseSettings{}, &clock);
  const int64_t w = Register("w", int64_t{1} << 34, &leases);
  clock.Advance(10ms);
  EXPECT_EQ(*leases.MarkSilentWorkersGone(10ms), 0) << "silent for exactly 10 ms";
  clock.Advance(1ms);
  auto n = leases.MarkSilentWorkersGone(10ms);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  store::WorkerStore workers(pool_.get());
  EXPECT_TRUE(workers.ListWorkers(false)->empty());
  ASSERT_EQ(workers.ListWorkers(true)->size(), 1u);
  EXPECT_EQ((*workers.ListWorkers(true))[0].id(), w);
}

TEST_F(StoreTest, ProgressPast2To31TokensKeepsItsCurveAndLiveTokens) {
  CreateSweep(1);
  v1::Lease l = MustLease(Register("w"));
  v1::ReportProgressRequest req;
  req.set_attempt_id(l.attempt_id());
  req.set_lease_token(l.lease_token());
  const int64_t big = int64_t{3'000'000'000};  // > 2^31
  for (int i = 1; i <= 3; ++i) {
    v1::CurvePoint* p = req.add_points();
    p->set_step(i);
    p->set_tokens(big * i);
    p->set_flops(6e9 * static_cast<double>(big) * i);
    p->set_train_loss(3.0);
    p->set_tokens_per_second(1e6);
  }
  auto r = leases_->ReportProgress(req);
  ASSERT_TRUE(r.ok()) << r.status();
  EXPECT_EQ(db_.Query("SELECT tokens_done FROM runs"), std::to_string(3 * big));
  EXPECT_EQ(db_.Query("SELECT max(tokens) FROM curve_points"), std::to_string(3 * big));
  EXPECT_EQ(db_.Query("SELECT curve_points FROM runs"), "3");
}

TEST_F(StoreTest, ImplausibleResultsAreRefusedNamingTheFieldAndNothingIsStored) {
  CreateSweep(1);
  const int64_t w = Register("w");
  const auto complete = [&](const std::string& json) {
    v1::Lease l = MustLease(w);
    v1::CompleteAttemptRequest req;
    req.set_attempt_id(l.attempt_id());
    req.set_lease_token(l.lease_token());
    req.set_result_json(json);
    return leases_->CompleteAttempt(req).status();
  };
  // A plausible result with one field changed.
  const int64_t run = std::stoll(db_.Query("SELECT id FROM runs"));
  const auto with = [&](const char* key, const nlohmann::json& value) {
    nlohmann::json j = nlohmann::json::parse(PlausibleResult(run, 2));
    j[key] = value;
    return j.dump();
  };
  absl::Status st = complete(with("final_eval_loss", 1e300));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("result_json.final_eval_loss"), std::string::npos) << st;
  st = complete(with("tokens", -std::stoll(db_.Query("SELECT planned_tokens FROM runs"))));
  EXPECT_EQ(st.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(st.message()).find("result_json.tokens"), std::string::npos) << st;
  st = complete(with("flops", -1));
  EXPECT_NE(std::string(st.message()).find("result_json.flops"), std::string::npos) << st;
  // Each refusal failed its attempt (retried like a crash); nothing stored.
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome = 'failed' AND reason = "
                      "'bad_result'"),
            "3");
  EXPECT_EQ(db_.Query("SELECT state || ':' || (final_eval_loss IS NULL) FROM runs"), "failed:true")
      << "three failures spend max_attempts (3)";
}

TEST_F(StoreTest, ANulCharacterInAResultIsStoredNotLost) {
  CreateSweep(1);
  v1::Lease l = MustLease(Register("w"));
  nlohmann::json result = nlohmann::json::parse(PlausibleResult(l.run_id(), 2.5));
  result["device"] = std::string("cpu\0evil", 8);
  result["details"] = {{std::string("k\0", 2), std::string("\0", 1)}};
  v1::CompleteAttemptRequest req;
  req.set_attempt_id(l.attempt_id());
  req.set_lease_token(l.lease_token());
  req.set_result_json(result.dump());
  auto end = leases_->CompleteAttempt(req);
  ASSERT_TRUE(end.ok()) << end.status();
  EXPECT_EQ(db_.Query("SELECT state || ':' || final_eval_loss FROM runs"), "succeeded:2.5");
  EXPECT_EQ(db_.Query("SELECT device FROM runs"),
            "cpu\xEF\xBF\xBD"
            "evil");
  // And a failure message with one is stored too.
  CreateSweep(1);
  v1::Lease f = MustLease(Register("w2"));
  v1::FailAttemptRequest fail;
  fail.set_attempt_id(f.attempt_id());
  fail.set_lease_token(f.lease_token());
  fail.set_reason("internal");
  fail.set_message(std::string("boom\0tail", 9));
  ASSERT_TRUE(leases_->FailAttempt(fail).ok());
  EXPECT_EQ(db_.Query("SELECT message FROM attempts WHERE id = " + std::to_string(f.attempt_id())),
            "boom\xEF\xBF\xBDtail");
}

TEST_F(StoreTest, ADeviceHoldsOneLiveLeaseAtATime) {
  CreateSweep(3);
  const int64_t w = Register("w");
  auto first = leases_->LeaseRun(w, 0);
  ASSERT_TRUE(first.ok() && first->granted());
  // Asked again (the first answer was lost): the same lease, not a second.
  auto second = leases_->LeaseRun(w, 0);
  ASSERT_TRUE(second.ok()) << second.status();
  ASSERT_TRUE(second->granted());
  EXPECT_EQ(second->lease().attempt_id(), first->lease().attempt_id());
  EXPECT_EQ(second->lease().lease_token(), first->lease().lease_token());
  EXPECT_EQ(second->lease().run_id(), first->lease().run_id());
  EXPECT_EQ(nlohmann::json::parse(second->lease().config_json())["run_id"],
            first->lease().run_id());
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts"), "1");
  // Once its trainer reported, the worker runs it: asked again, it is refused.
  v1::ReportProgressRequest started;
  started.set_attempt_id(first->lease().attempt_id());
  started.set_lease_token(first->lease().lease_token());
  started.set_started_json("{\"event\": \"started\"}");
  ASSERT_TRUE(leases_->ReportProgress(started).ok());
  auto third = leases_->LeaseRun(w, 0);
  EXPECT_EQ(third.status().code(), absl::StatusCode::kFailedPrecondition) << third.status();
  EXPECT_NE(std::string(third.status().message()).find("device_index"), std::string::npos);
  EXPECT_TRUE(leases_->LeaseRun(w, 1)->granted()) << "another device of the worker may lease";
  // Racing calls for one free device: one lease, which every granted call names.
  auto pool = MakePool(6);
  store::LeaseStore leases(pool.get(), store::LeaseSettings{});
  std::mutex mu;
  std::set<int64_t> attempts;
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      auto r = leases.LeaseRun(w, 2);
      if (!r.ok()) {
        EXPECT_EQ(r.status().code(), absl::StatusCode::kFailedPrecondition) << r.status();
        return;
      }
      std::lock_guard<std::mutex> lock(mu);
      if (r->granted()) attempts.insert(r->lease().attempt_id());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(attempts.size(), 1u);
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome IS NULL"), "3");
}

TEST_F(StoreTest, ARunKeepsAtMostTheCapOfCurvePointsAndBadPointsAreRefused) {
  store::LeaseSettings s;
  s.max_curve_points = 5;
  store::LeaseStore leases(pool_.get(), s);
  CreateSweep(1);
  const int64_t w = Register("w");
  v1::Lease l = leases.LeaseRun(w, 0)->lease();
  const auto report = [&](int from, int to, double flops = 1e9) {
    v1::ReportProgressRequest req;
    req.set_attempt_id(l.attempt_id());
    req.set_lease_token(l.lease_token());
    for (int step = from; step <= to; ++step) {
      v1::CurvePoint* p = req.add_points();
      p->set_step(step);
      p->set_tokens(step * 4096);
      p->set_flops(flops);
      p->set_train_loss(3);
      p->set_lr(std::nan(""));
    }
    return leases.ReportProgress(req);
  };
  ASSERT_TRUE(report(1, 3).ok());
  ASSERT_TRUE(report(3, 4).ok()) << "a step reported again replaces its point";
  ASSERT_TRUE(report(5, 9).ok());
  EXPECT_EQ(db_.Query("SELECT count(*) || ':' || max(step) FROM curve_points"), "5:5");
  EXPECT_EQ(db_.Query("SELECT curve_points FROM runs"), "5");
  EXPECT_EQ(db_.Query("SELECT tokens_done FROM runs"), std::to_string(9 * 4096))
      << "live progress goes on past the cap";
  // Steps repeated within one report are one point, not an INTERNAL error.
  v1::ReportProgressRequest dup;
  dup.set_attempt_id(l.attempt_id());
  dup.set_lease_token(l.lease_token());
  for (int i = 0; i < 2; ++i) {
    v1::CurvePoint* p = dup.add_points();
    p->set_step(2);
    p->set_tokens(8192);
    p->set_flops(1);
  }
  EXPECT_TRUE(leases.ReportProgress(dup).ok());
  absl::Status bad = report(10, 10, std::numeric_limits<double>::infinity()).status();
  EXPECT_EQ(bad.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.message()).find("points[0].flops"), std::string::npos) << bad;
}

// The result's typed columns come from the protocol's field table: every
// field with a column is stored there (set here to a value unlike the
// others' and read back), and an optional field left out is NULL. A new
// field is covered here without a change to this test.
TEST_F(StoreTest, EveryResultFieldIsStoredInItsColumnFromTheProtocolTable) {
  using protocol::EventSchema;
  using protocol::ResultEvent;
  CreateSweep(2);
  const int64_t w = Register("w");
  for (const bool optional_set : {true, false}) {
    const v1::Lease l = MustLease(w);
    ResultEvent r;
    ASSERT_FALSE(protocol::ReadEvent(nlohmann::json::parse(PlausibleResult(l.run_id(), 2.5)), &r));
    std::map<std::string, std::string> expected;  // column -> its text, "" for NULL
    const auto text_of = [](double v) {
      std::ostringstream text;
      text << std::setprecision(17) << v;
      return text.str();
    };
    int i = 0, details_k = 0;
    for (const auto& f : EventSchema<ResultEvent>::Fields()) {
      ++i;
      std::visit(
          [&](auto member) {
            auto& v = r.*member;
            using T = std::decay_t<decltype(v)>;
            const std::string name = f.name;
            const bool planned = name == "final_eval_loss" || name == "tokens" || name == "flops";
            if constexpr (std::is_same_v<T, int64_t>) {
              if (!planned) v = (name == "params_total" ? 1'000'000'000 : 1000) + i;
              expected[std::string(f.column_name())] = std::to_string(v);
            } else if constexpr (std::is_same_v<T, double>) {
              if (!planned) v = 0.25 + i;
              expected[std::string(f.column_name())] = text_of(v);
            } else if constexpr (std::is_same_v<T, std::string>) {
              v = "text-" + name;
              expected[std::string(f.column_name())] = v;
            } else if constexpr (std::is_same_v<T, bool>) {
              v = true;
              expected[std::string(f.column_name())] = "true";
            } else if constexpr (std::is_same_v<T, nlohmann::json>) {
              v = {{"k", i}};
              details_k = i;
            } else if constexpr (std::is_same_v<T, std::optional<int64_t>>) {
              if (optional_set) v = int64_t{1} << (32 + i);
              expected[std::string(f.column_name())] = v ? std::to_string(*v) : "";
            } else {
              if (optional_set) v = 0.75 + i;
              expected[std::string(f.column_name())] = v ? text_of(*v) : "";
            }
          },
          f.member);
    }
    expected.erase("");  // the fields kept only in the result's JSON
    v1::CompleteAttemptRequest req;
    req.set_attempt_id(l.attempt_id());
    req.set_lease_token(l.lease_token());
    req.set_result_json(protocol::WriteEventLine(r));
    auto end = leases_->CompleteAttempt(req);
    ASSERT_TRUE(end.ok()) << end.status();
    const std::string run = std::to_string(l.run_id());
    for (const auto& [column, text] : expected) {
      const std::string got =
          db_.Query("SELECT COALESCE(" + column + "::text, '') FROM runs " + "WHERE id = " + run);
      if (text.empty() || got.empty()) {
        EXPECT_EQ(got, text) << column;
      } else if (text == "true" || text == "false") {
        EXPECT_EQ(got, text) << column;
      } else {
        char* rest = nullptr;
        const double want = std::strtod(text.c_str(), &rest);
        if (*rest == '\0') {
          EXPECT_EQ(std::stod(got), want) << column;  // exactly: stored typed, not rounded
        } else {
          EXPECT_EQ(got, text) << column;
        }
      }
    }
    EXPECT_EQ(db_.Query("SELECT result->'details'->>'k' FROM runs WHERE id = " + run),
              std::to_string(details_k))
        << "the whole result is kept too";
  }
}

}  // namespace
}  // namespace ladder
