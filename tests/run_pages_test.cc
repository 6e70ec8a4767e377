// ListRuns pages and `ladder runs --limit/--page` through a real
// ladder-coordinator process, PostgreSQL and the CLI binary: pages cover
// every run exactly once, in order; page_size 0 is capped on a sweep larger
// than a page; bad tokens and flags are refused naming the field.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "ladder/v1/ladder.grpc.pb.h"
#include "tests/testing/local_stack.h"
#include "tests/testing/test_database.h"

namespace ladder {
namespace {

using testing::CliResult;
using testing::LocalStack;

// A grid sweep of `runs` runs (one size, 10 lengths, runs/10 seeds).
std::string Grid(int runs) {
  std::string seeds;
  for (int i = 0; i < runs / 10; ++i) seeds += (i ? "," : "") + std::to_string(i + 1);
  return "name: pages\nkind: grid\nfamilies: [lstm]\nseeds: [" + seeds +
         "]\ngrid: {params: [3e4], tokens: [4096, 8192, 12288, 16384, 20480, 24576, 28672, "
         "32768, 36864, 40960]}\n";
}

std::unique_ptr<grpc::ClientContext> Ctx() {
  auto c = std::make_unique<grpc::ClientContext>();
  c->set_deadline(std::chrono::system_clock::now() + std::chrono::seconds(30));
  return c;
}

class RunPagesTest : public ::testing::Test {
 protected:
  void SetUp() override {
    stack_ = std::make_unique<LocalStack>(db_.url());
    auto channel = grpc::CreateChannel(stack_->address(), grpc::InsecureChannelCredentials());
    sweeps_ = v1::Sweeps::NewStub(channel);
    runs_ = v1::Runs::NewStub(channel);
  }

  int64_t Create(int runs) {
    v1::CreateSweepRequest req;
    req.set_spec_yaml(Grid(runs));
    v1::CreateSweepResponse resp;
    grpc::Status st = sweeps_->CreateSweep(Ctx().get(), req, &resp);
    EXPECT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(resp.sweep().counts().total(), runs);
    return resp.sweep().id();
  }

  grpc::Status List(int64_t sweep, int page_size, const std::string& token,
                    v1::ListRunsResponse* out, v1::RunState state = v1::RUN_STATE_UNSPECIFIED) {
    v1::ListRunsRequest req;
    req.set_sweep_id(sweep);
    req.set_page_size(page_size);
    req.set_page_token(token);
    req.set_state(state);
    out->Clear();
    return runs_->ListRuns(Ctx().get(), req, out);
  }

  testing::TestDatabase db_;
  std::unique_ptr<LocalStack> stack_;
  std::unique_ptr<v1::Sweeps::Stub> sweeps_;
  std::unique_ptr<v1::Runs::Stub> runs_;
};

TEST_F(RunPagesTest, PagesCoverEveryRunOnceInOrder) {
  const int64_t sweep = Create(300);
  const int64_t other = Create(20);  // its runs never leak into the pages
  std::vector<int> ordinals;
  std::string token;
  int pages = 0;
  do {
    v1::ListRunsResponse page;
    grpc::Status st = List(sweep, 7, token, &page);
    ASSERT_TRUE(st.ok()) << st.error_message();
    EXPECT_EQ(page.total(), 300);
    EXPECT_LE(page.runs_size(), 7);
    for (const auto& r : page.runs()) {
      EXPECT_EQ(r.sweep_id(), sweep);
      ordinals.push_back(r.ordinal());
    }
    token = page.next_page_token();
    ASSERT_LT(++pages, 100) << "the pages never end";
  } while (!token.empty());
  EXPECT_EQ(pages, 43);  // 42 pages of 7 and one of 6
  ASSERT_EQ(ordinals.size(), 300u);
  for (int i = 0; i < 300; ++i) ASSERT_EQ(ordinals[i], i) << "every run once, in order";

  // A filter pages the same way; its total counts the matching runs only.
  v1::ListRunsResponse queued;
  ASSERT_TRUE(List(other, 0, "", &queued, v1::RUN_STATE_QUEUED).ok());
  EXPECT_EQ(queued.runs_size(), 20);
  EXPECT_EQ(queued.total(), 20);
  EXPECT_TRUE(queued.next_page_token().empty()) << "page_size 0 on a small sweep: every run";
  v1::ListRunsResponse none;
  ASSERT_TRUE(List(other, 5, "", &none, v1::RUN_STATE_SUCCEEDED).ok());
  EXPECT_EQ(none.runs_size(), 0);
  EXPECT_EQ(none.total(), 0);
  EXPECT_TRUE(none.next_page_token().empty());
}

TEST_F(RunPagesTest, PageSizeZeroOnALargeSweepAnswersTheFirstPage) {
  const int64_t sweep = Create(1200);
  v1::ListRunsResponse page;
  ASSERT_TRUE(List(sweep, 0, "", &page).ok());
  EXPECT_EQ(page.runs_size(), 1000);
  EXPECT_EQ(page.total(), 1200);
  ASSERT_FALSE(page.next_page_token().empty());
  v1::ListRunsResponse rest;
  ASSERT_TRUE(List(sweep, 5000, page.next_page_token(), &rest).ok());
  ASSERT_EQ(rest.runs_size(), 200);
  EXPECT_EQ(rest.runs(0).ordinal(), 1000);
  EXPECT_TRUE(rest.next_page_token().empty());

  // The CLI's --json without --limit or --page follows the pages: every run.
  CliResult all = stack_->Cli({"--json", "runs", std::to_string(sweep)});
  ASSERT_EQ(all.exit_code, 0) << all.err;
  EXPECT_EQ(nlohmann::json::parse(all.out)["runs"].size(), 1200u);
}

TEST_F(RunPagesTest, BadPageRequestsAreInvalidArgumentNamingTheField) {
  const int64_t sweep = Create(10);
  for (const std::string token : {"garbage", "o", "o-3", "o1x", "p5", "o99999999999"}) {
    v1::ListRunsResponse page;
    grpc::Status st = List(sweep, 5, token, &page);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << token;
    EXPECT_EQ(st.error_message().rfind("page_token: ", 0), 0u) << st.error_message();
  }
  v1::ListRunsResponse page;
  grpc::Status st = List(sweep, -1, "", &page);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("page_size: ", 0), 0u) << st.error_message();
  EXPECT_EQ(List(424242, 5, "", &page).error_code(), grpc::StatusCode::NOT_FOUND);
}

TEST_F(RunPagesTest, CliShowsOnePageWithAFooterAndRefusesBadFlags) {
  const int64_t sweep = Create(250);
  const std::string id = std::to_string(sweep);
  CliResult p2 = stack_->Cli({"runs", id, "--limit", "100", "--page", "2"});
  ASSERT_EQ(p2.exit_code, 0) << p2.err;
  EXPECT_NE(
      p2.out.find("page 2 of 3 (250 runs); next: ladder runs " + id + " --limit 100 --page 3"),
      std::string::npos)
      << p2.out;
  // Header, 100 runs, footer; ordinals 100..199.
  EXPECT_EQ(std::count(p2.out.begin(), p2.out.end(), '\n'), 102) << p2.out;
  CliResult p3 = stack_->Cli({"--json", "runs", id, "--limit", "100", "--page", "3"});
  ASSERT_EQ(p3.exit_code, 0) << p3.err;
  auto j = nlohmann::json::parse(p3.out);
  ASSERT_EQ(j["runs"].size(), 50u);
  EXPECT_EQ(j["runs"][0]["ordinal"], 200);
  EXPECT_EQ(j["total"], "250");  // int64 in proto3 JSON is a string
  CliResult last = stack_->Cli({"runs", id, "--limit", "100", "--page", "3"});
  EXPECT_NE(last.out.find("page 3 of 3 (250 runs)\n"), std::string::npos) << last.out;

  // --state pages walk the matching runs.
  CliResult queued =
      stack_->Cli({"--json", "runs", id, "--state", "queued", "--limit", "40", "--page", "4"});
  ASSERT_EQ(queued.exit_code, 0) << queued.err;
  auto q = nlohmann::json::parse(queued.out);
  ASSERT_EQ(q["runs"].size(), 40u);
  EXPECT_EQ(q["runs"][0]["ordinal"], 120);

  for (const std::vector<std::string>& bad : {std::vector<std::string>{"--page", "0"},
                                              {"--page", "abc"},
                                              {"--page", "4"},
                                              {"--limit", "0"},
                                              {"--limit", "1001"},
                                              {"--limit", "1e2"}}) {
    std::vector<std::string> args = {"runs", id, "--limit", "100"};
    args.insert(args.end(), bad.begin(), bad.end());
    CliResult r = stack_->Cli(args);
    EXPECT_EQ(r.exit_code, 2) << bad[0] << " " << bad[1] << ": " << r.out << r.err;
    EXPECT_NE(r.err.find(bad[0] + ":"), std::string::npos) << r.err;
    EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << "one line: " << r.err;
  }
  CliResult beyond = stack_->Cli({"runs", id, "--state", "succeeded", "--page", "2"});
  EXPECT_EQ(beyond.exit_code, 2) << beyond.out;
  EXPECT_NE(beyond.err.find("--page: sweep " + id + " has 1 page of 100 runs (0 runs), not 2"),
            std::string::npos)
      << beyond.err;
}

}  // namespace
}  // namespace ladder
