// Heartbeats and progress reports as group commits (LeaseStore::Heartbeats,
// ReportProgresses) against a real PostgreSQL: the fencing of a single call
// holds for each request of a batch (a stale lease neither writes nor is
// extended), each request gets its own answer, repeated steps within a batch
// are one point, and the per-run curve cap holds across a batch.
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <limits>
#include <string>
#include <thread>
#include <vector>

#include "tests/store/store_fixture.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using testing::AheadOfTheDatabase;
using testing::StoreTest;

v1::ReportProgressRequest Report(const v1::Lease& l, int from, int to, double loss = 3.0) {
  v1::ReportProgressRequest req;
  req.set_attempt_id(l.attempt_id());
  req.set_lease_token(l.lease_token());
  for (int step = from; step <= to; ++step) {
    v1::CurvePoint* p = req.add_points();
    p->set_step(step);
    p->set_tokens(int64_t{step} * 4096);
    p->set_flops(step * 1e9);
    p->set_train_loss(loss);
    p->set_tokens_per_second(100);
  }
  return req;
}

v1::HeartbeatRequest Beat(int64_t worker, const std::vector<v1::Lease>& leases) {
  v1::HeartbeatRequest hb;
  hb.set_worker_id(worker);
  for (const auto& l : leases) {
    auto* a = hb.add_attempts();
    a->set_attempt_id(l.attempt_id());
    a->set_lease_token(l.lease_token());
  }
  return hb;
}

template <typename T>
std::vector<const T*> Pointers(const std::vector<T>& v) {
  std::vector<const T*> out;
  for (const auto& x : v) out.push_back(&x);
  return out;
}

std::string Id(int64_t v) { return std::to_string(v); }

TEST_F(StoreTest, AProgressBatchMixingStaleAndLiveLeasesWritesAndExtendsOnlyTheLiveOne) {
  store::LeaseSettings s;
  s.ttl = 150ms;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(4);
  const int64_t w = Register("w", int64_t{1} << 34, &leases);
  const v1::Lease expired = leases.LeaseRun(w, 0)->lease();
  clock.Advance(100ms);
  const v1::Lease live = leases.LeaseRun(w, 1)->lease();
  const v1::Lease wrong = leases.LeaseRun(w, 2)->lease();
  const v1::Lease ended = leases.LeaseRun(w, 3)->lease();
  clock.Advance(60ms);  // past the first lease's deadline only
  ASSERT_EQ(leases.ExpireLeases()->attempts, 1);
  v1::FailAttemptRequest drain;
  drain.set_attempt_id(ended.attempt_id());
  drain.set_lease_token(ended.lease_token());
  drain.set_reason("drained");
  ASSERT_TRUE(leases.FailAttempt(drain).ok());

  std::vector<v1::ReportProgressRequest> batch = {Report(expired, 1, 5), Report(live, 1, 5),
                                                  Report(wrong, 1, 5), Report(ended, 1, 5)};
  batch[2].set_lease_token("not-the-token");
  batch[1].set_started_json("{\"event\":\"started\",\"trainer\":\"ladder-sim\"}");
  batch[2].set_started_json("{\"event\":\"started\",\"trainer\":\"forged\"}");
  auto answers = leases.ReportProgresses(Pointers(batch));
  ASSERT_EQ(answers.size(), 4u);
  for (const auto& a : answers) ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_TRUE(answers[0]->revoked()) << "an expired lease must not write";
  EXPECT_FALSE(answers[1]->revoked());
  EXPECT_TRUE(answers[2]->revoked()) << "a wrong token must not write";
  EXPECT_TRUE(answers[3]->revoked()) << "an ended attempt must not write";

  EXPECT_EQ(db_.Query("SELECT string_agg(DISTINCT attempt_id::text, ',') || ':' || count(*) "
                      "FROM curve_points"),
            Id(live.attempt_id()) + ":5");
  EXPECT_EQ(db_.Query("SELECT string_agg(id::text || '=' || state || '/' || tokens_done || '/' || "
                      "curve_points, ',' ORDER BY id) FROM runs WHERE id IN (" +
                      Id(live.run_id()) + "," + Id(wrong.run_id()) + ")"),
            Id(live.run_id()) + "=running/20480/5," + Id(wrong.run_id()) + "=leased/0/0");
  EXPECT_EQ(db_.Query("SELECT string_agg(started->>'trainer', ',') FROM attempts "
                      "WHERE started IS NOT NULL"),
            "ladder-sim");
  // The live lease runs a ttl from the report; the one with the wrong token
  // still from its grant.
  clock.Advance(100ms);
  ASSERT_EQ(leases.ExpireLeases()->attempts, 1);
  EXPECT_EQ(db_.Query("SELECT string_agg(id::text, ',') FROM attempts WHERE outcome IS NULL"),
            Id(live.attempt_id()));
}

TEST_F(StoreTest, AHeartbeatBatchAnswersEachWorkerOnItsOwn) {
  store::LeaseSettings s;
  s.ttl = 150ms;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(3);
  const int64_t w1 = Register("w1", int64_t{1} << 34, &leases);
  const int64_t w2 = Register("w2", int64_t{1} << 34, &leases);
  const v1::Lease a = leases.LeaseRun(w1, 0)->lease();
  const v1::Lease b = leases.LeaseRun(w2, 0)->lease();
  const v1::Lease c = leases.LeaseRun(w2, 1)->lease();
  db_.Query("UPDATE workers SET state = 'draining' WHERE id = " + Id(w2) + " RETURNING id");
  clock.Advance(100ms);
  v1::Lease b_forged = b;
  b_forged.set_lease_token("not-the-token");
  std::vector<v1::HeartbeatRequest> batch = {
      Beat(w1, {a, b}),           // b is w2's: revoked for w1
      Beat(w1 + w2 + 1000, {a}),  // unknown worker
      Beat(w2, {b_forged, c}),    // wrong token for b
      Beat(w2, {b}),
  };
  auto answers = leases.Heartbeats(Pointers(batch));
  ASSERT_EQ(answers.size(), 4u);
  ASSERT_TRUE(answers[0].ok()) << answers[0].status();
  EXPECT_FALSE(answers[0]->drain());
  ASSERT_EQ(answers[0]->revoked_attempt_ids_size(), 1);
  EXPECT_EQ(answers[0]->revoked_attempt_ids(0), b.attempt_id());
  EXPECT_EQ(answers[1].status().code(), absl::StatusCode::kNotFound);
  EXPECT_NE(std::string(answers[1].status().message()).find("worker_id"), std::string::npos)
      << answers[1].status();
  ASSERT_TRUE(answers[2].ok()) << answers[2].status();
  EXPECT_TRUE(answers[2]->drain());
  ASSERT_EQ(answers[2]->revoked_attempt_ids_size(), 1);
  EXPECT_EQ(answers[2]->revoked_attempt_ids(0), b.attempt_id());
  ASSERT_TRUE(answers[3].ok()) << answers[3].status();
  EXPECT_EQ(answers[3]->revoked_attempt_ids_size(), 0);
  EXPECT_TRUE(answers[3]->drain());
  // Every lease named rightly got a ttl from the heartbeat: none expires at
  // 1.3 ttl from its grant, and all do a ttl after the heartbeat.
  clock.Advance(100ms);
  EXPECT_EQ(leases.ExpireLeases()->attempts, 0);
  clock.Advance(50ms);
  EXPECT_EQ(leases.ExpireLeases()->attempts, 3);
}

TEST_F(StoreTest, AHeartbeatBatchOfAStaleLeaseDoesNotExtendIt) {
  store::LeaseSettings s;
  s.ttl = 150ms;
  FakeClock clock(AheadOfTheDatabase());
  store::LeaseStore leases(pool_.get(), s, &clock);
  CreateSweep(2);
  const int64_t w = Register("w", int64_t{1} << 34, &leases);
  const v1::Lease live = leases.LeaseRun(w, 0)->lease();
  const v1::Lease stale = leases.LeaseRun(w, 1)->lease();
  v1::Lease forged = stale;
  forged.set_lease_token("not-the-token");
  clock.Advance(100ms);
  std::vector<v1::HeartbeatRequest> batch = {Beat(w, {live}), Beat(w, {forged})};
  auto answers = leases.Heartbeats(Pointers(batch));
  ASSERT_TRUE(answers[0].ok() && answers[1].ok());
  EXPECT_EQ(answers[0]->revoked_attempt_ids_size(), 0);
  EXPECT_EQ(answers[1]->revoked_attempt_ids_size(), 1);
  clock.Advance(60ms);
  ASSERT_EQ(leases.ExpireLeases()->attempts, 1);
  EXPECT_EQ(db_.Query("SELECT id FROM attempts WHERE outcome IS NULL"), Id(live.attempt_id()));
}

TEST_F(StoreTest, TwoReportsOfOneStepInABatchStoreOnePointTheLaterOne) {
  CreateSweep(1);
  const v1::Lease l = MustLease(Register("w"));
  std::vector<v1::ReportProgressRequest> batch = {Report(l, 3, 4, 5.0), Report(l, 3, 3, 4.0)};
  batch[0].set_started_json("{\"event\":\"started\",\"trainer\":\"ladder-sim\"}");
  auto answers = leases_->ReportProgresses(Pointers(batch));
  ASSERT_TRUE(answers[0].ok()) << answers[0].status();
  ASSERT_TRUE(answers[1].ok()) << answers[1].status();
  EXPECT_FALSE(answers[0]->revoked() || answers[1]->revoked());
  EXPECT_EQ(db_.Query("SELECT string_agg(step || '=' || train_loss, ',' ORDER BY step) "
                      "FROM curve_points"),
            "3=4,4=5");
  EXPECT_EQ(db_.Query("SELECT curve_points FROM runs"), "2");
  // Live progress as two calls in a row leave it: the later report's.
  EXPECT_EQ(db_.Query("SELECT tokens_done || '/' || last_train_loss FROM runs"),
            std::to_string(3 * 4096) + "/4");
  EXPECT_EQ(db_.Query("SELECT started->>'trainer' FROM attempts"), "ladder-sim")
      << "a report without started_json keeps the batch's other one";
}

TEST_F(StoreTest, TheCurveCapHoldsAcrossABatch) {
  store::LeaseSettings s;
  s.max_curve_points = 5;
  store::LeaseStore leases(pool_.get(), s);
  CreateSweep(2);
  const int64_t w = Register("w");
  const v1::Lease a = leases.LeaseRun(w, 0)->lease();
  const v1::Lease b = leases.LeaseRun(w, 1)->lease();
  ASSERT_TRUE(leases.ReportProgress(Report(b, 1, 2)).ok());
  std::vector<v1::ReportProgressRequest> batch = {Report(a, 1, 3), Report(a, 3, 4), Report(b, 3, 9),
                                                  Report(a, 5, 9)};
  auto answers = leases.ReportProgresses(Pointers(batch));
  for (const auto& r : answers) ASSERT_TRUE(r.ok() && !r->revoked()) << r.status();
  EXPECT_EQ(db_.Query("SELECT string_agg(run_id || ':' || n || ':' || top, ',' ORDER BY run_id) "
                      "FROM (SELECT run_id, count(*) AS n, max(step) AS top FROM curve_points "
                      "GROUP BY run_id) c"),
            Id(a.run_id()) + ":5:5," + Id(b.run_id()) + ":5:5");
  EXPECT_EQ(db_.Query("SELECT string_agg(curve_points::text || '/' || tokens_done, ',' "
                      "ORDER BY id) FROM runs"),
            "5/" + std::to_string(9 * 4096) + ",5/" + std::to_string(9 * 4096))
      << "the counter matches the rows; live progress goes on past the cap";
}

TEST_F(StoreTest, ABadReportInAProgressBatchIsRefusedAloneNamingItsField) {
  CreateSweep(2);
  const int64_t w = Register("w");
  const v1::Lease a = MustLease(w);
  const v1::Lease b = MustLease(w);
  std::vector<v1::ReportProgressRequest> batch = {Report(a, 1, 2), Report(b, 1, 3), Report(b, 4, 4),
                                                  Report(a, 3, 3)};
  batch[1].mutable_points(1)->set_flops(std::numeric_limits<double>::infinity());
  batch[2].set_started_json("[1]");
  auto answers = leases_->ReportProgresses(Pointers(batch));
  ASSERT_TRUE(answers[0].ok()) << answers[0].status();
  EXPECT_EQ(answers[1].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(answers[1].status().message()).find("points[1].flops"), std::string::npos)
      << answers[1].status();
  EXPECT_EQ(answers[2].status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(answers[2].status().message()).find("started_json"), std::string::npos)
      << answers[2].status();
  ASSERT_TRUE(answers[3].ok()) << answers[3].status();
  EXPECT_EQ(db_.Query("SELECT string_agg(run_id || ':' || step, ',' ORDER BY run_id, step) "
                      "FROM curve_points"),
            Id(a.run_id()) + ":1," + Id(a.run_id()) + ":2," + Id(a.run_id()) + ":3");
}

// A batch the database refuses as a whole (here a trigger refuses one
// report's point) is answered one report at a time: the others are stored.
TEST_F(StoreTest, AProgressBatchTheDatabaseRefusesIsRetriedOneReportAtATime) {
  CreateSweep(2);
  const int64_t w = Register("w");
  const v1::Lease a = MustLease(w);
  const v1::Lease b = MustLease(w);
  db_.Query(
      "CREATE FUNCTION refuse_step_666() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN "
      "IF NEW.step = 666 THEN RAISE EXCEPTION 'step 666 refused'; END IF; RETURN NEW; END $$; "
      "CREATE TRIGGER refuse_step_666 BEFORE INSERT ON curve_points FOR EACH ROW "
      "EXECUTE FUNCTION refuse_step_666(); SELECT 1");
  std::vector<v1::ReportProgressRequest> batch = {Report(a, 1, 2), Report(b, 665, 666)};
  auto answers = leases_->ReportProgresses(Pointers(batch));
  ASSERT_TRUE(answers[0].ok()) << answers[0].status();
  EXPECT_FALSE(answers[0]->revoked());
  EXPECT_FALSE(answers[1].ok());
  EXPECT_EQ(db_.Query("SELECT string_agg(run_id || ':' || step, ',' ORDER BY run_id, step) "
                      "FROM curve_points"),
            Id(a.run_id()) + ":1," + Id(a.run_id()) + ":2");
}

// Batches from several threads over the same attempts, in opposite orders,
// lock in one order: none fails, and every point is stored once.
TEST_F(StoreTest, ConcurrentProgressAndHeartbeatBatchesOverTheSameLeasesAllSucceed) {
  CreateSweep(8);
  const int64_t w = Register("w");
  std::vector<v1::Lease> ls;
  for (int i = 0; i < 8; ++i) ls.push_back(MustLease(w));
  std::vector<std::thread> threads;
  std::atomic<int> failed{0};
  for (int t = 0; t < 4; ++t) {
    threads.emplace_back([&, t] {
      for (int round = 0; round < 20; ++round) {
        std::vector<v1::ReportProgressRequest> batch;
        for (int i = 0; i < 8; ++i) {
          const int k = t % 2 ? 7 - i : i;
          const int step = round * 4 + t;
          batch.push_back(Report(ls[k], step, step));
        }
        for (const auto& r : leases_->ReportProgresses(Pointers(batch)))
          if (!r.ok() || r->revoked()) ++failed;
        std::vector<v1::HeartbeatRequest> beats = {Beat(w, ls), Beat(w, {ls[7 - t]})};
        for (const auto& r : leases_->Heartbeats(Pointers(beats)))
          if (!r.ok() || r->revoked_attempt_ids_size() != 0) ++failed;
      }
    });
  }
  for (auto& t : threads) t.join();
  EXPECT_EQ(failed.load(), 0);
  EXPECT_EQ(db_.Query("SELECT count(*) || '/' || (SELECT sum(curve_points) FROM runs) "
                      "FROM curve_points"),
            "640/640");
}

}  // namespace
}  // namespace ladder
