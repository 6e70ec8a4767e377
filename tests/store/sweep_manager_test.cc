// SweepManager over the real stores (PostgreSQL): the rules between the
// Sweeps/Runs RPCs and the stores (validation before storing, import
// observers, the run-state filter).
#include "server/sweep_manager.h"

#include <gtest/gtest.h>

#include <set>
#include <vector>

#include "server/store/worker_store.h"
#include "tests/store/store_fixture.h"

namespace ladder {
namespace {

using testing::StoreTest;

struct RecordingObserver : ImportObserver {
  void OnSweepImported(int64_t sweep_id) override { imported.push_back(sweep_id); }
  std::vector<int64_t> imported;
};

v1::ImportResultsRequest AnImport(const std::string& name) {
  v1::ImportResultsRequest req;
  req.set_name(name);
  for (int i = 1; i <= 2; ++i) {
    auto* r = req.add_results();
    r->set_family("lstm");
    r->set_params(1e6 * i);
    r->set_tokens(2e7 * i);
    r->set_final_loss(4.0 / i);
  }
  return req;
}

TEST_F(StoreTest, AnImportTellsTheObserversOnceStoredAndABadOneTellsNoOne) {
  store::WorkerStore workers(pool_.get());
  SweepManager manager(sweeps_.get(), &workers);
  RecordingObserver a, b;
  manager.AddObserver(&a);
  manager.AddObserver(&b);
  auto sweep = manager.Import(AnImport("imp"));
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  EXPECT_EQ(a.imported, std::vector<int64_t>{sweep->id()});
  EXPECT_EQ(b.imported, std::vector<int64_t>{sweep->id()});
  EXPECT_EQ(sweep->kind(), "imported");
  EXPECT_EQ(sweep->state(), v1::SWEEP_STATE_SUCCEEDED);

  v1::ImportResultsRequest bad = AnImport("bad");
  bad.mutable_results(1)->set_final_loss(-1);
  auto refused = manager.Import(bad);
  EXPECT_EQ(refused.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(refused.status().message()).find("results[1].final_loss"),
            std::string::npos)
      << refused.status();
  EXPECT_EQ(a.imported.size(), 1u) << "nothing stored, nobody told";
  EXPECT_EQ(db_.Query("SELECT count(*) FROM sweeps WHERE name = 'bad'"), "0");
}

TEST_F(StoreTest, ManagerListsRunsByWireStateAndRefusesAnUnknownOne) {
  store::WorkerStore workers(pool_.get());
  SweepManager manager(sweeps_.get(), &workers);
  const int64_t sweep = CreateSweep(3);
  MustLease(Register("w"));
  const auto list = [&](int state) {
    v1::ListRunsRequest req;
    req.set_sweep_id(sweep);
    req.set_state(static_cast<v1::RunState>(state));
    return manager.ListRuns(req);
  };
  EXPECT_EQ(list(v1::RUN_STATE_UNSPECIFIED)->runs_size(), 3);
  EXPECT_EQ(list(v1::RUN_STATE_QUEUED)->runs_size(), 2);
  EXPECT_EQ(list(v1::RUN_STATE_QUEUED)->total(), 2);
  EXPECT_EQ(list(v1::RUN_STATE_LEASED)->runs_size(), 1);
  auto bad = list(99);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.status().message()).find("state"), std::string::npos);
  EXPECT_EQ(manager.List(false, -1).status().code(), absl::StatusCode::kInvalidArgument);
  auto listed = manager.List(false, 0);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].spec_yaml().empty()) << "a listing carries no spec text";
  EXPECT_FALSE(manager.Get(sweep)->spec_yaml().empty());
}

TEST_F(StoreTest, WatchOfALargeSweepSendsABoundedFirstEventThenOnlyWhatChanged) {
  const int runs = kWatchFirstEventRuns + 200;
  const int64_t sweep = CreateSweep(runs);
  // A run past the first event's share by ordinal, leased: shown first.
  db_.Query("UPDATE runs SET priority = 10 WHERE sweep_id = " + std::to_string(sweep) +
            " AND ordinal = " + std::to_string(runs - 10));
  const int64_t worker = Register("w");
  const v1::Lease live = MustLease(worker);

  SweepWatch watch(sweeps_.get(), sweep);
  v1::SweepEvent e;
  bool has = false;
  ASSERT_TRUE(watch.Poll(&e, &has).ok());
  ASSERT_TRUE(has);
  EXPECT_EQ(e.sweep().counts().total(), runs) << "the counts are whole";
  EXPECT_EQ(e.sweep().counts().leased(), 1);
  ASSERT_EQ(e.runs_size(), kWatchFirstEventRuns);
  EXPECT_EQ(e.runs(0).id(), live.run_id()) << "the live run comes first";
  EXPECT_EQ(e.runs(1).ordinal(), 0);

  // Every run was written moments ago (inside the poll's overlap window),
  // but none changed: nothing to send, nothing more remembered.
  ASSERT_TRUE(watch.Poll(&e, &has).ok());
  EXPECT_FALSE(has) << e.ShortDebugString().substr(0, 300);
  EXPECT_LE(watch.remembered(), static_cast<size_t>(kWatchFirstEventRuns));

  const v1::Lease second = MustLease(worker);
  ASSERT_TRUE(watch.Poll(&e, &has).ok());
  ASSERT_TRUE(has);
  ASSERT_EQ(e.runs_size(), 1);
  EXPECT_EQ(e.runs(0).id(), second.run_id());
  EXPECT_EQ(e.runs(0).state(), v1::RUN_STATE_LEASED);
  EXPECT_EQ(e.sweep().counts().leased(), 2);

  // Cancelling changes every run at once: events carry at most
  // kWatchMaxRunsPerEvent runs each, and the stream ends only once every
  // change went out.
  ASSERT_TRUE(sweeps_->CancelSweep(sweep).ok());
  std::set<int64_t> cancelled;
  int events = 0;
  while (!watch.ended()) {
    ASSERT_TRUE(watch.Poll(&e, &has).ok());
    ASSERT_LT(++events, 10);
    if (!has) continue;
    EXPECT_LE(e.runs_size(), kWatchMaxRunsPerEvent);
    for (const auto& r : e.runs()) {
      EXPECT_EQ(r.state(), v1::RUN_STATE_CANCELLED);
      cancelled.insert(r.id());
    }
  }
  EXPECT_EQ(cancelled.size(), static_cast<size_t>(runs));
  EXPECT_EQ(e.sweep().state(), v1::SWEEP_STATE_CANCELLED);
}

}  // namespace
}  // namespace ladder
