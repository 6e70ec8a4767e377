// The PostgreSQL store against a real server: migrations, sweep creation,
// leases, expiry, completion and failure semantics.
#include <gtest/gtest.h>

#include <atomic>
#include <set>
#include <thread>

#include "server/refit_loop.h"
#include "server/store/fit_store.h"
#include "server/store/lease_store.h"
#include "server/store/migrations.h"
#include "server/store/pg_pool.h"
#include "server/store/sweep_store.h"
#include "server/store/worker_store.h"
#include "server/sweep_planner.h"
#include "tests/testing/test_database.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override {
    pool_ = MakePool();
    ASSERT_TRUE(store::ApplyMigrations(*pool_).ok());
    sweeps_ = std::make_unique<store::SweepStore>(pool_.get());
    store::LeaseSettings s;
    s.ttl = 30s;
    s.retry_backoff = 0ms;
    leases_ = std::make_unique<store::LeaseStore>(pool_.get(), s);
  }

  std::unique_ptr<store::PgPool> MakePool(int size = 4) {
    store::PgPool::Options o;
    o.url = db_.url();
    o.size = size;
    auto pool = store::PgPool::Connect(o);
    EXPECT_TRUE(pool.ok()) << pool.status();
    return pool.ok() ? *std::move(pool) : nullptr;
  }

  // Creates a sweep of `n` grid runs (one family, n token budgets).
  int64_t CreateSweep(int n, int max_attempts = 3, int priority = 0, double params = 1e5) {
    std::string tokens;
    for (int i = 0; i < n; ++i) tokens += (i ? "," : "") + std::to_string(4096 * (i + 1));
    auto spec = ParseSweepSpec(
        "name: s\nkind: grid\nfamilies: [lstm]\nmax_attempts: " + std::to_string(max_attempts) +
        "\npriority: " + std::to_string(priority) + "\ngrid: {params: [" + std::to_string(params) +
        "], tokens: [" + tokens + "]}\n");
    EXPECT_TRUE(spec.ok()) << spec.status();
    auto runs = PlanSweep(*spec);
    EXPECT_TRUE(runs.ok()) << runs.status();
    auto sweep = sweeps_->CreateSweep("yaml", *spec, *runs);
    EXPECT_TRUE(sweep.ok()) << sweep.status();
    return sweep->id();
  }

  int64_t Register(const std::string& name, int64_t memory = int64_t{1} << 34,
                   store::LeaseStore* leases = nullptr) {
    v1::RegisterWorkerRequest req;
    req.set_name(name);
    req.set_hostname("host-" + name);
    req.set_trainer("ladder-sim");
    v1::Device* d = req.add_devices();
    d->set_index(0);
    d->set_kind("cpu");
    d->set_model("cpu");
    d->set_memory_bytes(memory);
    d->set_threads(1);
    auto id = (leases ? leases : leases_.get())->RegisterWorker(req);
    EXPECT_TRUE(id.ok()) << id.status();
    return *id;
  }

  v1::Lease MustLease(int64_t worker) {
    auto r = leases_->LeaseRun(worker, 0);
    EXPECT_TRUE(r.ok()) << r.status();
    EXPECT_TRUE(r->granted());
    return r->lease();
  }

  absl::StatusOr<store::AttemptEnd> Complete(const v1::Lease& l, double loss) {
    v1::CompleteAttemptRequest req;
    req.set_attempt_id(l.attempt_id());
    req.set_lease_token(l.lease_token());
    req.set_result_json("{\"final_eval_loss\": " + std::to_string(loss) +
                        ", \"tokens\": 4096, \"params_total\": 10, \"simulated\": true}");
    return leases_->CompleteAttempt(req);
  }

  absl::StatusOr<store::AttemptEnd> Fail(const v1::Lease& l, const std::string& reason) {
    v1::FailAttemptRequest req;
    req.set_attempt_id(l.attempt_id());
    req.set_lease_token(l.lease_token());
    req.set_reason(reason);
    req.set_message("test");
    return leases_->FailAttempt(req);
  }

  testing::TestDatabase db_;
  std::unique_ptr<store::PgPool> pool_;
  std::unique_ptr<store::SweepStore> sweeps_;
  std::unique_ptr<store::LeaseStore> leases_;
};

TEST_F(StoreTest, MigrationsAreAppliedOnceAndAreIdempotent) {
  std::vector<int> applied;
  ASSERT_TRUE(store::ApplyMigrations(*pool_, &applied).ok());
  EXPECT_TRUE(applied.empty()) << "second application must apply nothing";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM schema_migrations"),
            std::to_string(store::EmbeddedMigrations().size()));
}

TEST(MigrationRaceTest, CoordinatorsStartingTogetherApplyEachMigrationOnce) {
  testing::TestDatabase db;
  std::atomic<int> applied{0};
  std::atomic<int> failed{0};
  std::vector<std::thread> threads;
  for (int i = 0; i < 6; ++i) {
    threads.emplace_back([&] {
      store::PgPool::Options o;
      o.url = db.url();
      o.size = 1;
      auto pool = store::PgPool::Connect(o);
      if (!pool.ok()) {
        ++failed;
        return;
      }
      std::vector<int> mine;
      if (!store::ApplyMigrations(**pool, &mine).ok()) ++failed;
      applied += static_cast<int>(mine.size());
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(applied.load(), static_cast<int>(store::EmbeddedMigrations().size()));
  EXPECT_EQ(db.Query("SELECT count(*) FROM schema_migrations"),
            std::to_string(store::EmbeddedMigrations().size()));
}

TEST_F(StoreTest, ANewerSchemaIsRefused) {
  db_.Query(
      "INSERT INTO schema_migrations (version, name) VALUES (9999, '9999_future') RETURNING "
      "version");
  absl::Status st = store::ApplyMigrations(*pool_);
  EXPECT_EQ(st.code(), absl::StatusCode::kFailedPrecondition) << st;
}

TEST_F(StoreTest, CreateSweepStoresEveryRunOrNone) {
  const int64_t id = CreateSweep(5);
  auto sweep = sweeps_->GetSweep(id);
  ASSERT_TRUE(sweep.ok());
  EXPECT_EQ(sweep->counts().total(), 5);
  EXPECT_EQ(sweep->counts().queued(), 5);
  EXPECT_EQ(sweep->state(), v1::SWEEP_STATE_ACTIVE);
  EXPECT_GT(sweep->planned_flops(), 0);

  // A sweep whose runs violate a constraint (an impossible device kind) is
  // refused and leaves neither the sweep nor any run behind.
  auto spec = ParseSweepSpec(
      "name: bad\nkind: grid\nfamilies: [lstm]\ngrid: {params: [1e5], tokens: [4096, 8192]}\n");
  ASSERT_TRUE(spec.ok());
  spec->device = "tpu";
  auto runs = PlanSweep(*spec);
  ASSERT_TRUE(runs.ok());
  auto bad = sweeps_->CreateSweep("yaml", *spec, *runs);
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(db_.Query("SELECT count(*) FROM sweeps WHERE name = 'bad'"), "0");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM runs"), "5");
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
        std::lock_guard<std::mutex> lock(mu);
        leased.insert(r->lease().run_id());
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
  auto r = leases_->LeaseRun(w, 7);
  EXPECT_EQ(r.status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(r.status().message()).find("device_index"), std::string::npos);
}

TEST_F(StoreTest, ExpiredLeaseIsGrantedToAnotherWorker) {
  store::LeaseSettings s;
  s.ttl = 200ms;
  store::LeaseStore leases(pool_.get(), s);
  CreateSweep(1);
  const int64_t w1 = Register("w1"), w2 = Register("w2");
  auto first = leases.LeaseRun(w1, 0);
  ASSERT_TRUE(first.ok() && first->granted());
  EXPECT_FALSE(leases.LeaseRun(w2, 0)->granted());
  std::this_thread::sleep_for(400ms);
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
  store::LeaseStore leases(pool_.get(), s);
  CreateSweep(1);
  const int64_t w = Register("w");
  auto l = leases.LeaseRun(w, 0);
  for (int i = 0; i < 6; ++i) {
    std::this_thread::sleep_for(100ms);
    v1::HeartbeatRequest hb;
    hb.set_worker_id(w);
    auto* a = hb.add_attempts();
    a->set_attempt_id(l->lease().attempt_id());
    a->set_lease_token(l->lease().lease_token());
    auto r = leases.Heartbeat(hb);
    ASSERT_TRUE(r.ok());
    EXPECT_EQ(r->revoked_attempt_ids_size(), 0);
    ASSERT_TRUE(leases.ExpireLeases().ok());
  }
  EXPECT_EQ(db_.Query("SELECT outcome IS NULL FROM attempts"), "t");
}

TEST_F(StoreTest, StaleCompletionIsRefusedAndNeverOverwritesTheResult) {
  store::LeaseSettings s;
  s.ttl = 150ms;
  store::LeaseStore leases(pool_.get(), s);
  CreateSweep(1);
  const int64_t w1 = Register("w1"), w2 = Register("w2");
  v1::Lease old = leases.LeaseRun(w1, 0)->lease();
  std::this_thread::sleep_for(300ms);
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
  store::LeaseStore leases(pool_.get(), s);
  CreateSweep(1);
  const int64_t w = Register("w");
  v1::Lease l = leases.LeaseRun(w, 0)->lease();
  std::this_thread::sleep_for(250ms);
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
  store::LeaseStore leases(pool_.get(), s);
  CreateSweep(1);
  leases.LeaseRun(Register("w"), 0);
  // The lease ran out while no coordinator was running...
  db_.Query("UPDATE attempts SET lease_expires_at = now() - interval '1 minute' RETURNING 1");
  // ...and a starting coordinator gives it another ttl before reclaiming anything.
  ASSERT_EQ(*leases.ExtendLiveLeasesForRestart(), 1);
  EXPECT_EQ(leases.ExpireLeases()->attempts, 0);
  std::this_thread::sleep_for(500ms);
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

TEST_F(StoreTest, CancelledSweepRevokesLiveLeases) {
  const int64_t sweep = CreateSweep(3);
  const int64_t w = Register("w");
  v1::Lease l = MustLease(w);
  auto cancelled = sweeps_->CancelSweep(sweep);
  ASSERT_TRUE(cancelled.ok());
  EXPECT_EQ(cancelled->state(), v1::SWEEP_STATE_CANCELLED);
  EXPECT_EQ(cancelled->counts().cancelled(), 3);
  v1::HeartbeatRequest hb;
  hb.set_worker_id(w);
  auto* a = hb.add_attempts();
  a->set_attempt_id(l.attempt_id());
  a->set_lease_token(l.lease_token());
  auto r = leases_->Heartbeat(hb);
  ASSERT_TRUE(r.ok());
  ASSERT_EQ(r->revoked_attempt_ids_size(), 1);
  EXPECT_EQ(r->revoked_attempt_ids(0), l.attempt_id());
  EXPECT_EQ(Complete(l, 1.0).status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_FALSE(leases_->LeaseRun(w, 0)->granted());
  EXPECT_EQ(sweeps_->CancelSweep(sweep).status().code(), absl::StatusCode::kFailedPrecondition);
}

TEST_F(StoreTest, ProgressStoresTheCurveAndAResumedAttemptContinuesIt) {
  store::LeaseSettings s;
  s.ttl = 150ms;
  store::LeaseStore leases(pool_.get(), s);
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
  std::this_thread::sleep_for(300ms);
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

TEST_F(StoreTest, SweepSucceedsWhenEveryRunSucceeds) {
  const int64_t sweep = CreateSweep(2);
  const int64_t w = Register("w");
  ASSERT_TRUE(Complete(MustLease(w), 3.0).ok());
  ASSERT_TRUE(sweeps_->FinishSweepIfDone(sweep).ok());
  EXPECT_EQ(sweeps_->GetSweep(sweep)->state(), v1::SWEEP_STATE_ACTIVE);
  ASSERT_TRUE(Complete(MustLease(w), 2.0).ok());
  ASSERT_TRUE(sweeps_->FinishSweepIfDone(sweep).ok());
  auto s = sweeps_->GetSweep(sweep);
  EXPECT_EQ(s->state(), v1::SWEEP_STATE_SUCCEEDED);
  EXPECT_NEAR(s->progress(), 1.0, 1e-9);
  EXPECT_GT(s->finished_unix_ms(), 0);
}

TEST_F(StoreTest, ReRegisteringWorkerLosesItsLiveAttempts) {
  CreateSweep(1);
  const int64_t w = Register("w");
  MustLease(w);
  EXPECT_EQ(Register("w"), w) << "a worker keeps its id across restarts";
  EXPECT_EQ(db_.Query("SELECT outcome || ':' || reason FROM attempts"), "expired:worker_restarted");
  EXPECT_EQ(db_.Query("SELECT state FROM runs"), "queued");
}

TEST_F(StoreTest, DrainedWorkerGetsNoLeaseAndIsToldSo) {
  CreateSweep(2);
  const int64_t w = Register("w");
  store::WorkerStore workers(pool_.get());
  auto drained = workers.DrainWorker(w);
  ASSERT_TRUE(drained.ok());
  EXPECT_EQ(drained->state(), "draining");
  auto r = leases_->LeaseRun(w, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->granted());
  EXPECT_TRUE(r->drain());
  EXPECT_EQ(workers.DrainWorker(777).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(StoreTest, SilentWorkersAreMarkedGone) {
  const int64_t w = Register("w");
  std::this_thread::sleep_for(50ms);
  auto n = leases_->MarkSilentWorkersGone(10ms);
  ASSERT_TRUE(n.ok());
  EXPECT_EQ(*n, 1);
  store::WorkerStore workers(pool_.get());
  EXPECT_TRUE(workers.ListWorkers(false)->empty());
  ASSERT_EQ(workers.ListWorkers(true)->size(), 1u);
  EXPECT_EQ((*workers.ListWorkers(true))[0].id(), w);
}

TEST_F(StoreTest, RefitLoopPacesASweepsRefitsByWhatTheLastOneCost) {
  const int64_t id = CreateSweep(3);
  store::FitStore fits(pool_.get());
  const auto refits_after_two_schedules = [&](double pacing) {
    RefitLoop::Options o;
    o.debounce = 0ms;
    o.pacing = pacing;
    o.bootstrap_resamples = 10;
    RefitLoop loop(&fits, sweeps_.get(), nullptr, nullptr, o);
    loop.Start();
    loop.Schedule(id);
    for (int i = 0; i < 500 && loop.completed() < 1; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(loop.completed(), 1);
    loop.Schedule(id);
    std::this_thread::sleep_for(500ms);
    const int done = loop.completed();
    loop.Stop();
    return done;
  };
  // A refit takes at least a millisecond (a database round trip): 1e6 times
  // that is over 15 minutes, so the second refit must wait.
  EXPECT_EQ(refits_after_two_schedules(1e6), 1);
  EXPECT_EQ(refits_after_two_schedules(0), 2);
}

}  // namespace
}  // namespace ladder
