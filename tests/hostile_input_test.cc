// Hostile input over real gRPC with a real PostgreSQL: sweep files built to
// exhaust the coordinator, and imported results whose values no column
// holds. Each is refused whole with INVALID_ARGUMENT naming the field, and
// nothing is stored.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include "client/import_parser.h"
#include "tests/testing/coordinator_harness.h"
#include "tests/testing/test_database.h"

namespace ladder {
namespace {

using testing::CoordinatorHarness;

class HostileInputTest : public ::testing::Test {
 protected:
  grpc::Status Submit(const std::string& yaml) {
    v1::CreateSweepRequest req;
    req.set_spec_yaml(yaml);
    v1::CreateSweepResponse resp;
    return h_.sweeps().CreateSweep(CoordinatorHarness::Ctx().get(), req, &resp);
  }
  grpc::Status Import(const v1::ImportResultsRequest& req) {
    v1::Sweep s;
    return h_.sweeps().ImportResults(CoordinatorHarness::Ctx().get(), req, &s);
  }
  void ExpectNothingStored() {
    EXPECT_EQ(db_.Query("SELECT count(*) FROM sweeps"), "0");
    EXPECT_EQ(db_.Query("SELECT count(*) FROM runs"), "0");
  }

  testing::TestDatabase db_;
  CoordinatorHarness h_{db_.url()};
};

TEST_F(HostileInputTest, AliasBombIsRefusedNamingTheLine) {
  std::string yaml =
      "name: bomb\nkind: grid\nfamilies: [lstm]\ngrid: {params: [1e5], tokens: [1e6]}\n"
      "simulation:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n";
  for (int i = 0; i < 8; ++i) {
    const std::string prev = i == 0 ? "a" : "a" + std::to_string(i - 1);
    yaml += "  a" + std::to_string(i) + ": &a" + std::to_string(i) + " [";
    for (int k = 0; k < 10; ++k) yaml += std::string(k ? ", " : "") + "*" + prev;
    yaml += "]\n";
  }
  grpc::Status st = Submit(yaml);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(),
            "spec (line 6): YAML anchors (&name) are not accepted in a sweep file; write the value "
            "out");
  ExpectNothingStored();
}

TEST_F(HostileInputTest, HugeCountsAreRefusedBeforeAnythingIsBuilt) {
  grpc::Status st = Submit(
      "name: big\nkind: isoflop\nfamilies: [lstm, transformer]\n"
      "isoflop: {budgets: [1e15, 1e16, 1e17], sizes: 1000000}\n");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("isoflop.sizes: the sweep expands into 6e+06 runs", 0), 0u)
      << st.error_message();
  st = Submit(
      "name: big\nkind: isoflop\nfamilies: [lstm]\nisoflop: {budgets: [1e15], sizes: 1e9}\n");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("isoflop.sizes (line 4): must be at most 1000000"),
            std::string::npos)
      << st.error_message();
  ExpectNothingStored();
}

TEST_F(HostileInputTest, NumbersThatWouldWrapAreRefused) {
  const std::string grid = "grid: {params: [1e5], tokens: [1e6]}\n";
  grpc::Status st =
      Submit("name: c\nkind: grid\nfamilies: [lstm]\nmodel: {context: 4294967297}\n" + grid);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_NE(st.error_message().find("model.context (line 4): must be at most 1048576"),
            std::string::npos)
      << st.error_message();
  st = Submit("name: t\nkind: grid\nfamilies: [lstm]\ngrid: {params: [1e5], tokens: [1e30]}\n");
  EXPECT_NE(st.error_message().find("grid.tokens[0] (line 4): must be at most 1e+15"),
            std::string::npos)
      << st.error_message();
  st = Submit("name: s\nkind: grid\nfamilies: [lstm]\nseeds: [1e19]\n" + grid);
  EXPECT_NE(st.error_message().find("seeds[0] (line 4): must be a whole number in [0, "),
            std::string::npos)
      << st.error_message();
  ExpectNothingStored();
}

TEST_F(HostileInputTest, RunConfigTooLargeForAWorkerIsRefusedAtSubmit) {
  std::string zeros;
  for (int i = 0; i < 300000; ++i) zeros += i ? ",0" : "0";
  grpc::Status st = Submit(
      "name: fat\nkind: grid\nfamilies: [lstm]\ngrid: {params: [1e5], tokens: [1e6]}\n"
      "simulation: {law: [" +
      zeros + "]}\n");
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message().rfind("simulation: 1200009 bytes as JSON, too large for a run's "
                                     "config",
                                     0),
            0u)
      << st.error_message();
  ExpectNothingStored();
}

// `ladder import` of 1e300 values returned raw SQL error text. The CLI's
// parser passes values on; the coordinator names the row and field.
TEST_F(HostileInputTest, ImportedValuesOutOfRangeAreRefusedNamingRowAndField) {
  const struct {
    const char* csv_row;
    const char* expected;
  } cases[] = {
      {"lstm,1e6,1e7,2.0,0,0", ""},  // in range: the baseline row 0
      {"lstm,1e300,1e7,2.0,0,0", "results[1].params: must be in [1, 1e+13], got 1e+300"},
      {"lstm,1e6,1e300,2.0,0,0", "results[1].tokens: must be in [1, 1e+15], got 1e+300"},
      {"lstm,1e6,1e7,1e300,0,0", "results[1].final_loss: must be at most 1e+06, got 1e+300"},
      {"lstm,1e6,1e7,2.0,1e300,0", "results[1].flops: must be at most 1e+30, got 1e+300"},
      {"lstm,1e6,1e7,2.0,0,0.5",
       "results[1].unique_tokens: must be 0 (all fresh) or in [1, tokens]"},
      {"lstm,1e6,1e7,2.0,0,1e400",
       "results[1].unique_tokens: must be 0 (all fresh) or in [1, tokens]"},
      {"lstm,0.1,1e7,2.0,0,0", "results[1].params: must be in [1, 1e+13], got 0.1"},
  };
  for (const auto& c : cases) {
    if (*c.expected == 0) continue;
    v1::ImportResultsRequest req;
    std::string error;
    ASSERT_TRUE(cli::ParseImportCsv(std::string("family,params,tokens,loss,flops,unique_tokens\n") +
                                        cases[0].csv_row + "\n" + c.csv_row + "\n",
                                    &req, &error))
        << error;
    req.set_name("hostile");
    grpc::Status st = Import(req);
    EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT) << c.csv_row;
    EXPECT_EQ(st.error_message(), c.expected) << c.csv_row;
  }
  v1::ImportResultsRequest req;
  std::string error;
  ASSERT_TRUE(cli::ParseImportJson(R"([{"family":"lstm","params":1e6,"tokens":1e7,"loss":2}])",
                                   &req, &error));
  req.set_name(std::string("a\0b", 3));  // PostgreSQL text cannot hold a NUL
  grpc::Status st = Import(req);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(),
            "name: must be at most 200 bytes of UTF-8 text without NUL characters");
  ExpectNothingStored();
}

}  // namespace
}  // namespace ladder
