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
  absl::StatusOr<store::SweepStore::RunPage> ListRunsPage(int64_t,
                                                          std::optional<enums::RunState> state,
                                                          int64_t after_ordinal,
                                                          int limit) override {
    listed_state = state;
    listed_after = after_ordinal;
    listed_page_limit = limit;
    store::SweepStore::RunPage page;
    for (int64_t o = after_ordinal + 1; o < runs && static_cast<int>(page.runs.size()) < limit;
         ++o) {
      v1::Run r;
      r.set_ordinal(static_cast<int>(o));
      r.set_config_json(std::string(config_bytes, 'x'));
      page.runs.push_back(r);
    }
    page.more = !page.runs.empty() && page.runs.back().ordinal() + 1 < runs;
    page.total = runs;
    return page;
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
  int64_t listed_after = -2;
  int listed_page_limit = 0;
  int64_t runs = 0;         // the sweep ListRunsPage pages through
  size_t config_bytes = 0;  // each of its runs' config_json
};

v1::ListRunsRequest Page(int state, int page_size = 0, const std::string& token = "") {
  v1::ListRunsRequest req;
  req.set_sweep_id(1);
  req.set_state(static_cast<v1::RunState>(state));
  req.set_page_size(page_size);
  req.set_page_token(token);
  return req;
}

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
  EXPECT_EQ(manager.ListRuns(Page(999)).status().message(), "state: unknown run state");
  EXPECT_EQ(manager.ListRuns(Page(0, -1)).status().message(),
            "page_size: must not be negative (0 = up to 1000 runs), got -1");
  for (const char* token : {"x", "o", "o-1", "o12a", "o99999999999", " o1", "1"}) {
    auto bad = manager.ListRuns(Page(0, 10, token));
    EXPECT_EQ(bad.status().code(), absl::StatusCode::kInvalidArgument) << token;
    EXPECT_EQ(std::string(bad.status().message()).rfind("page_token: ", 0), 0u)
        << token << ": " << bad.status();
  }
  EXPECT_EQ(records.listed_page_limit, 0) << "no bad request reached the store";
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
  ASSERT_TRUE(manager.ListRuns(Page(v1::RUN_STATE_RUNNING)).ok());
  EXPECT_EQ(records.listed_state, enums::RunState::kRunning);
  ASSERT_TRUE(manager.ListRuns(Page(v1::RUN_STATE_UNSPECIFIED)).ok());
  EXPECT_EQ(records.listed_state, std::nullopt);
}

TEST(SweepManagerTest, ListRunsPagesAreCappedAndTheirTokensResumeAfterTheLastRun) {
  FakeSweepRecords records;
  records.runs = 2500;
  SweepManager manager(&records);
  // page_size 0 (every run, for a small sweep) and above the cap: the cap.
  for (int size : {0, 5000}) {
    auto page = manager.ListRuns(Page(0, size));
    ASSERT_TRUE(page.ok()) << page.status();
    EXPECT_EQ(records.listed_page_limit, kMaxRunsPageSize);
    EXPECT_EQ(page->runs_size(), kMaxRunsPageSize);
    EXPECT_EQ(page->total(), 2500);
    EXPECT_EQ(page->next_page_token(), RunsPageToken(kMaxRunsPageSize - 1));
  }
  auto page = manager.ListRuns(Page(0, 100, RunsPageToken(2399)));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_EQ(records.listed_after, 2399);
  EXPECT_EQ(page->runs_size(), 100);
  EXPECT_EQ(page->runs(0).ordinal(), 2400);
  EXPECT_TRUE(page->next_page_token().empty()) << "the last page";
}

TEST(SweepManagerTest, ListRunsPagesStopBeforeTheMessageCap) {
  FakeSweepRecords records;
  records.runs = 100;
  records.config_bytes = 1 << 20;  // the largest config a run may have
  SweepManager manager(&records);
  auto page = manager.ListRuns(Page(0, 100));
  ASSERT_TRUE(page.ok()) << page.status();
  EXPECT_LE(page->ByteSizeLong(), kMaxRunsPageBytes);
  EXPECT_GE(page->runs_size(), 1);
  EXPECT_LT(page->runs_size(), 4);
  EXPECT_EQ(page->next_page_token(), RunsPageToken(page->runs(page->runs_size() - 1).ordinal()));
  EXPECT_EQ(ParseRunsPageToken(page->next_page_token()), page->runs_size() - 1);
}

}  // namespace
}  // namespace ladder
