// SweepStore against a real PostgreSQL: creation is all or nothing,
// cancellation, and a sweep's final state.
#include <gtest/gtest.h>

#include <cctype>
#include <pqxx/pqxx>
#include <string>
#include <thread>

#include "common/enums/proto_enums.h"
#include "server/sweep_manager.h"
#include "tests/store/store_fixture.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

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
  auto bad = sweeps_->CreateSweep(SweepRow("yaml", *spec), RunRows(*runs));
  EXPECT_FALSE(bad.ok());
  EXPECT_EQ(db_.Query("SELECT count(*) FROM sweeps WHERE name = 'bad'"), "0");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM runs"), "5");
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

TEST_F(StoreTest, CancellingASweepWhileALeaseIsBeingGrantedLeavesNoLiveAttempt) {
  const int64_t sweep = CreateSweep(1);
  const int64_t w = Register("w");
  const std::string run = db_.Query("SELECT id FROM runs");
  // A lease being granted right now: its transaction has claimed the run and
  // created the attempt, and has not committed yet.
  pqxx::connection c(db_.url());
  pqxx::work lease(c);
  lease.exec0("UPDATE runs SET state = 'leased', attempts = 1 WHERE id = " + run);
  lease.exec0(
      "INSERT INTO attempts (run_id, number, worker_id, device_index, lease_token, "
      "lease_expires_at) VALUES (" +
      run + ", 1, " + std::to_string(w) + ", 0, 'tok', now() + interval '1 minute')");
  absl::Status cancelled;
  std::thread cancel([&] { cancelled = sweeps_->CancelSweep(sweep).status(); });
  // Wait until the cancel is blocked behind the lease's locks, then commit.
  for (int i = 0;
       i < 200 && db_.Query("SELECT count(*) FROM pg_stat_activity WHERE "
                            "wait_event_type = 'Lock' AND datname = current_database()") == "0";
       ++i) {
    std::this_thread::sleep_for(std::chrono::milliseconds(25));
  }
  lease.commit();
  cancel.join();
  ASSERT_TRUE(cancelled.ok()) << cancelled;
  EXPECT_EQ(db_.Query("SELECT state FROM runs"), "cancelled");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM attempts WHERE outcome IS NULL"), "0")
      << "the attempt granted during the cancel must end with it";
}

// The stored state names and the wire's enum values name the same states.
TEST(StateNamesTest, StoredStatesMapToTheWireAndBack) {
  const auto upper = [](std::string_view name) {
    std::string out(name);
    for (char& c : out) c = static_cast<char>(std::toupper(static_cast<unsigned char>(c)));
    return out;
  };
  for (enums::RunState s : enums::Values<enums::RunState>()) {
    EXPECT_EQ(v1::RunState_Name(enums::ToProto(s)), "RUN_STATE_" + upper(enums::Name(s)));
    EXPECT_EQ(enums::FromProto(enums::ToProto(s)), s);
  }
  for (enums::SweepState s : enums::Values<enums::SweepState>()) {
    EXPECT_EQ(v1::SweepState_Name(enums::ToProto(s)), "SWEEP_STATE_" + upper(enums::Name(s)));
    EXPECT_EQ(enums::FromProto(enums::ToProto(s)), s);
  }
  EXPECT_FALSE(enums::FromProto(v1::RUN_STATE_UNSPECIFIED).has_value());
  EXPECT_FALSE(enums::FromProto(v1::SWEEP_STATE_UNSPECIFIED).has_value());
}

TEST_F(StoreTest, ListRunsFiltersByState) {
  const int64_t sweep = CreateSweep(3);
  MustLease(Register("w"));
  EXPECT_EQ(sweeps_->ListRuns(sweep, std::nullopt)->size(), 3u);
  EXPECT_EQ(sweeps_->ListRuns(sweep, enums::RunState::kQueued)->size(), 2u);
  auto leased = sweeps_->ListRuns(sweep, enums::RunState::kLeased);
  ASSERT_EQ(leased->size(), 1u);
  EXPECT_EQ((*leased)[0].state(), v1::RUN_STATE_LEASED);
  EXPECT_TRUE(sweeps_->ListRuns(sweep, enums::RunState::kSucceeded)->empty());
  EXPECT_EQ(sweeps_->ListRuns(424242, std::nullopt).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ladder
