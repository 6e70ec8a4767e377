// SweepManager's rules over an in-memory SweepRecords (no database): a sweep
// too large for every registered device is refused whole, a dry run stores
// nothing, bad requests name the field and reach no store.
#include "server/sweep_manager.h"

#include <gtest/gtest.h>

namespace ladder {
namespace {

class FakeSweepRecords final : public SweepRecords {
 public:
  absl::StatusOr<v1::Sweep> CreateSweep(const store::NewSweep& sweep,
                                        const std::vector<store::NewRun>& runs) override {
    created.push_back(sweep);
    created_runs = runs;
    v1::Sweep s;
    s.set_id(static_cast<int64_t>(created.size()));
    s.set_name(sweep.name);
    return s;
  }
  absl::StatusOr<v1::Sweep> CreateImportedSweep(const v1::ImportResultsRequest& r) override {
    ++imports;
    v1::Sweep s;
    s.set_name(r.name());
    return s;
  }
  absl::StatusOr<v1::Sweep> GetSweep(int64_t) override { return v1::Sweep{}; }
  absl::StatusOr<std::vector<v1::Sweep>> ListSweeps(bool, int limit) override {
    listed_limit = limit;
    v1::Sweep s;
    s.set_spec_yaml("name: s");
    s.set_spec_json("{}");
    return std::vector<v1::Sweep>{s};
  }
  absl::StatusOr<v1::Sweep> CancelSweep(int64_t) override { return v1::Sweep{}; }
  absl::StatusOr<std::vector<v1::Run>> ListRuns(int64_t,
                                                std::optional<enums::RunState> state) override {
    listed_state = state;
    return std::vector<v1::Run>{};
  }
  absl::StatusOr<v1::Run> GetRun(int64_t, bool) override { return v1::Run{}; }
  absl::StatusOr<int64_t> LargestDeviceMemory(const std::string& device) override {
    asked_device = device;
    return largest;
  }

  int64_t largest = 0;
  std::string asked_device;
  std::vector<store::NewSweep> created;
  std::vector<store::NewRun> created_runs;
  int imports = 0;
  int listed_limit = -1;
  std::optional<enums::RunState> listed_state;
};

constexpr char kGrid[] =
    "name: s\nkind: grid\nfamilies: [lstm]\nmax_attempts: 2\n"
    "grid: {params: [100000], tokens: [4096, 8192, 16384]}\n";

TEST(SweepManagerTest, CreateStoresTheSweepAndItsPlannedRunsAsRows) {
  FakeSweepRecords records;
  SweepManager manager(&records);
  auto out = manager.Create(kGrid, /*dry_run=*/false);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->sweep().id(), 1);
  EXPECT_EQ(out->runs_size(), 0) << "planned runs come back only with a dry run";
  ASSERT_EQ(records.created.size(), 1u);
  EXPECT_EQ(records.created[0].name, "s");
  EXPECT_EQ(records.created[0].kind, enums::SweepKind::kGrid);
  EXPECT_EQ(records.created[0].families, std::vector<std::string>{"lstm"});
  EXPECT_EQ(records.created[0].max_attempts, 2);
  EXPECT_EQ(records.created[0].spec_yaml, kGrid);
  ASSERT_EQ(records.created_runs.size(), 3u);
  for (size_t i = 0; i < 3; ++i) EXPECT_EQ(records.created_runs[i].ordinal, static_cast<int>(i));
  EXPECT_EQ(records.asked_device, "any");
}

TEST(SweepManagerTest, ADryRunStoresNothingAndReturnsThePlannedRuns) {
  FakeSweepRecords records;
  SweepManager manager(&records);
  auto out = manager.Create(kGrid, /*dry_run=*/true);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_TRUE(records.created.empty());
  EXPECT_EQ(out->sweep().id(), 0);
  EXPECT_EQ(out->sweep().counts().total(), 3);
  ASSERT_EQ(out->runs_size(), 3);
  EXPECT_EQ(out->runs(2).planned_tokens(), 16384);
}

TEST(SweepManagerTest, ARunLargerThanEveryRegisteredDeviceRefusesTheWholeSweep) {
  FakeSweepRecords records;
  records.largest = 1024;  // bytes: every run needs more
  SweepManager manager(&records);
  auto out = manager.Create(kGrid, /*dry_run=*/false);
  EXPECT_EQ(out.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(out.status().message().rfind("runs[0]: ", 0), 0u) << out.status();
  EXPECT_NE(out.status().message().find("more than any registered device"), absl::string_view::npos)
      << out.status();
  EXPECT_TRUE(records.created.empty());
}

TEST(SweepManagerTest, BadRequestsNameTheFieldAndReachNoStore) {
  FakeSweepRecords records;
  SweepManager manager(&records);
  EXPECT_EQ(manager.Create(std::string((1 << 20) + 1, 'x'), false).status().message(),
            "spec_yaml: larger than 1 MiB");
  EXPECT_EQ(manager.List(false, -1).status().message(), "limit: must not be negative");
  EXPECT_EQ(manager.ListRuns(1, 999).status().message(), "state: unknown run state");
  v1::ImportResultsRequest import;
  EXPECT_EQ(manager.Import(import).status().message(), "name: must not be empty");
  import.set_name("x");
  EXPECT_EQ(manager.Import(import).status().message(), "results: must not be empty");
  EXPECT_TRUE(records.created.empty());
  EXPECT_EQ(records.imports, 0);
  EXPECT_EQ(records.listed_limit, -1);
}

TEST(SweepManagerTest, ListDropsTheSpecTextAndListRunsPassesTheState) {
  FakeSweepRecords records;
  SweepManager manager(&records);
  auto list = manager.List(true, 0);
  ASSERT_TRUE(list.ok());
  ASSERT_EQ(list->size(), 1u);
  EXPECT_TRUE((*list)[0].spec_yaml().empty());
  EXPECT_TRUE((*list)[0].spec_json().empty());
  ASSERT_TRUE(manager.ListRuns(1, v1::RUN_STATE_RUNNING).ok());
  EXPECT_EQ(records.listed_state, enums::RunState::kRunning);
  ASSERT_TRUE(manager.ListRuns(1, v1::RUN_STATE_UNSPECIFIED).ok());
  EXPECT_EQ(records.listed_state, std::nullopt);
}

}  // namespace
}  // namespace ladder
