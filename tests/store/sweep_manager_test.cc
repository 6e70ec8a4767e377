// SweepManager over the real stores (PostgreSQL): the rules between the
// Sweeps/Runs RPCs and the stores (validation before storing, import
// observers, the run-state filter).
#include "server/sweep_manager.h"

#include <gtest/gtest.h>

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
  EXPECT_EQ(manager.ListRuns(sweep, v1::RUN_STATE_UNSPECIFIED)->size(), 3u);
  EXPECT_EQ(manager.ListRuns(sweep, v1::RUN_STATE_QUEUED)->size(), 2u);
  EXPECT_EQ(manager.ListRuns(sweep, v1::RUN_STATE_LEASED)->size(), 1u);
  auto bad = manager.ListRuns(sweep, 99);
  EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_NE(std::string(bad.status().message()).find("state"), std::string::npos);
  EXPECT_EQ(manager.List(false, -1).status().code(), absl::StatusCode::kInvalidArgument);
  auto listed = manager.List(false, 0);
  ASSERT_TRUE(listed.ok());
  ASSERT_EQ(listed->size(), 1u);
  EXPECT_TRUE((*listed)[0].spec_yaml().empty()) << "a listing carries no spec text";
  EXPECT_FALSE(manager.Get(sweep)->spec_yaml().empty());
}

}  // namespace
}  // namespace ladder
