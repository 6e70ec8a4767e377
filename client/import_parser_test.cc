// `ladder import`'s parsers alone (no coordinator): which columns and keys
// they take, budgets and seeds, and the one line naming what they refuse.
#include "client/import_parser.h"

#include <gtest/gtest.h>

#include <cmath>

namespace ladder::cli {
namespace {

constexpr const char* kAccepted =
    "(accepted: family, params, tokens, loss (or final_loss, final_eval_loss), flops, "
    "unique_tokens, budget (or compute_budget), seed)";

TEST(ImportParserTest, CsvTakesBudgetAndSeedPerRow) {
  v1::ImportResultsRequest req;
  std::string error;
  ASSERT_TRUE(
      ParseImportCsv("seed,family,params,tokens,loss,budget\n"
                     "1,chinchilla,1e8,1e10,2.5,6e18\n"
                     "2,chinchilla,1e8,1e10,2.49,6e18\n"
                     "7.0,chinchilla,2e8,5e9,2.45,\n",
                     &req, &error))
      << error;
  ASSERT_EQ(req.results_size(), 3);
  EXPECT_EQ(req.results(0).budget(), 6e18);
  EXPECT_EQ(req.results(0).seed(), 1);
  EXPECT_EQ(req.results(1).seed(), 2);
  EXPECT_EQ(req.results(1).final_loss(), 2.49);
  EXPECT_EQ(req.results(2).budget(), 0) << "an empty cell is not given";
  EXPECT_EQ(req.results(2).seed(), 7) << "a whole number written as pandas writes it";
}

TEST(ImportParserTest, AliasesNameTheSameFields) {
  v1::ImportResultsRequest req;
  std::string error;
  ASSERT_TRUE(
      ParseImportCsv("family,params,tokens,final_eval_loss,compute_budget\n"
                     "lstm,1e6,1e7,3.5,6e13\n",
                     &req, &error))
      << error;
  EXPECT_EQ(req.results(0).final_loss(), 3.5);
  EXPECT_EQ(req.results(0).budget(), 6e13);
  req.Clear();
  ASSERT_TRUE(ParseImportJson(
      R"([{"family":"lstm","params":1e6,"tokens":1e7,"final_loss":3.5,"compute_budget":6e13,)"
      R"("seed":3}])",
      &req, &error))
      << error;
  EXPECT_EQ(req.results(0).final_loss(), 3.5);
  EXPECT_EQ(req.results(0).budget(), 6e13);
  EXPECT_EQ(req.results(0).seed(), 3);
}

TEST(ImportParserTest, UnknownCsvColumnsAreRefusedNamingThemAll) {
  v1::ImportResultsRequest req;
  std::string error;
  EXPECT_FALSE(ParseImportCsv("family,params,tokens,loss,isoflop_budget,lr\nlstm,1,2,3,4,5\n", &req,
                              &error));
  EXPECT_EQ(error, std::string("line 1: unknown columns 'isoflop_budget', 'lr' ") + kAccepted);
  EXPECT_EQ(req.results_size(), 0);
  // Reported before a missing column: the typo is the likelier cause.
  EXPECT_FALSE(ParseImportCsv("family,params,tokens,los\n", &req, &error));
  EXPECT_EQ(error, std::string("line 1: unknown column 'los' ") + kAccepted);
}

TEST(ImportParserTest, AFieldNamedTwiceIsRefused) {
  v1::ImportResultsRequest req;
  std::string error;
  EXPECT_FALSE(ParseImportCsv("family,params,tokens,loss,final_loss\n", &req, &error));
  EXPECT_EQ(error, "line 1: 'loss' and 'final_loss' both give loss; keep one");
  EXPECT_FALSE(ParseImportCsv("family,params,tokens,loss,budget,budget\n", &req, &error));
  EXPECT_EQ(error, "line 1: 'budget' is given twice");
  EXPECT_FALSE(ParseImportJson(
      R"([{"family":"a","params":1,"tokens":2,"loss":3,"budget":1,"compute_budget":1}])", &req,
      &error));
  EXPECT_EQ(error, "[0]: 'budget' and 'compute_budget' both give budget; keep one");
}

TEST(ImportParserTest, UnknownJsonKeysAreRefusedNamingThem) {
  v1::ImportResultsRequest req;
  std::string error;
  EXPECT_FALSE(ParseImportJson(R"([{"family":"a","params":1,"tokens":2,"loss":3},)"
                               R"({"family":"a","params":1,"tokens":2,"loss":3,"C":9}])",
                               &req, &error));
  EXPECT_EQ(error, std::string("[1]: unknown key 'C' ") + kAccepted);
}

TEST(ImportParserTest, ASeedMustBeAWholeNumber) {
  v1::ImportResultsRequest req;
  std::string error;
  EXPECT_FALSE(ParseImportCsv("family,params,tokens,loss,seed\nlstm,1,2,3,1.5\n", &req, &error));
  EXPECT_EQ(error, "line 2, column seed: not a whole number: '1.5'");
  EXPECT_FALSE(ParseImportCsv("family,params,tokens,loss,seed\nlstm,1,2,3,1e30\n", &req, &error));
  EXPECT_EQ(error, "line 2, column seed: not a whole number: '1e30'");
  EXPECT_FALSE(ParseImportJson(R"([{"family":"a","params":1,"tokens":2,"loss":3,"seed":"7"}])",
                               &req, &error));
  EXPECT_EQ(error, "[0].seed: must be a whole number");
  EXPECT_FALSE(ParseImportJson(
      R"([{"family":"a","params":1,"tokens":2,"loss":3,"seed":18446744073709551615}])", &req,
      &error));
  EXPECT_EQ(error, "[0].seed: must be a whole number");
}

// Ranges are the coordinator's to check (ValidateImport): a negative or NaN
// budget is passed on, and refused there naming results[i].budget.
TEST(ImportParserTest, BudgetValuesArePassedOnForTheCoordinatorToCheck) {
  v1::ImportResultsRequest req;
  std::string error;
  ASSERT_TRUE(
      ParseImportCsv("family,params,tokens,loss,budget,seed\n"
                     "lstm,1,2,3,-1e18,-4\n"
                     "lstm,1,2,3,nan,0\n",
                     &req, &error))
      << error;
  EXPECT_EQ(req.results(0).budget(), -1e18);
  EXPECT_EQ(req.results(0).seed(), -4);
  EXPECT_TRUE(std::isnan(req.results(1).budget()));
  EXPECT_FALSE(ParseImportCsv("family,params,tokens,loss,budget\nlstm,1,2,3,lots\n", &req, &error));
  EXPECT_EQ(error, "line 2, column budget: not a number: 'lots'");
}

}  // namespace
}  // namespace ladder::cli
