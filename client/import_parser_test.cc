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

// The header `ladder export --format csv` writes (client/export_command.cc).
constexpr const char* kExportHeader =
    "run_id,sweep_id,ordinal,family,shape,state,attempts,planned_params,planned_non_embedding_"
    "params,planned_tokens,planned_flops,planned_flops_6nd,budget,params,non_embedding_params,"
    "tokens,unique_tokens,epochs,flops,flops_6nd,final_eval_loss,wall_seconds,device,trainer,"
    "simulated,worker,learning_rate,seed\n";

// N is the export's non_embedding_params, not its params (the total); a run
// that did not succeed has empty results and is skipped, counted.
TEST(ImportParserTest, ExportCsvImportsBackWithNonEmbeddingParamsAsN) {
  v1::ImportResultsRequest req;
  std::string error;
  ImportNotes notes;
  ASSERT_TRUE(ParseImportCsv(
      std::string(kExportHeader) +
          "11,3,0,transformer,\"d=64, L=2\",succeeded,1,1200000,1000000,20000000,1.3e14,"
          "1.2e14,1.5e14,1200000,1000000,20000000,10000000,2,1.3e14,1.2e14,3.25,12.5,cpu,"
          "ladder-train,false,w1,0.003,7\n"
          "12,3,1,transformer,d=96,failed,3,2400000,2000000,10000000,1.3e14,1.2e14,1.5e14,,,"
          ",,,,,,,cpu,ladder-train,,w1,0.003,8\n"
          "13,3,2,lstm,d=32,succeeded,1,500000,400000,8000000,2e13,1.9e13,,500000,400000,"
          "8000000,8000000,1,2e13,1.92e13,4.5,3,cpu,ladder-train,false,w2,,\n",
      &req, &error, &notes))
      << error;
  EXPECT_TRUE(notes.ladder_export);
  EXPECT_EQ(notes.skipped, 1);
  ASSERT_EQ(req.results_size(), 2);
  const auto& r = req.results(0);
  EXPECT_EQ(r.family(), "transformer");
  EXPECT_EQ(r.params(), 1000000) << "non_embedding_params, not the total";
  EXPECT_EQ(r.tokens(), 20000000);
  EXPECT_EQ(r.unique_tokens(), 10000000);
  EXPECT_EQ(r.flops(), 1.3e14);
  EXPECT_EQ(r.final_loss(), 3.25);
  EXPECT_EQ(r.budget(), 1.5e14);
  EXPECT_EQ(r.seed(), 7);
  EXPECT_EQ(req.results(1).family(), "lstm");
  EXPECT_EQ(req.results(1).budget(), 0) << "no budget: not an IsoFLOP run";
  EXPECT_EQ(req.results(1).seed(), 0);
}

TEST(ImportParserTest, ExportJsonImportsBackWithSeedAndBudgetFromItsConfig) {
  // As ToJson writes ListRunsResponse: int64 fields as strings, the enum by name.
  const std::string run =
      R"({"id":"11","sweep_id":"3","ordinal":0,"family":"transformer","state":"RUN_STATE_SUCCEEDED",)"
      R"("config_json":"{\"plan\":{\"budget\":1.5e14},\"train\":{\"seed\":7,\"lr\":0.003}}",)"
      R"("shape":"d=64","planned_params":"1200000","planned_non_embedding_params":"1000000",)"
      R"("planned_tokens":"20000000","planned_flops":1.3e14,"planned_flops_6nd":1.2e14,)"
      R"("memory_bytes":"0","attempts":1,"max_attempts":3,"tokens_done":"20000000",)"
      R"("last_train_loss":3.2,"tokens_per_second":1e5,"params":"1200000",)"
      R"("non_embedding_params":"1000000","tokens":"20000000","unique_tokens":"10000000",)"
      R"("epochs":2,"flops":1.3e14,"flops_6nd":1.2e14,"final_eval_loss":3.25,"wall_seconds":12.5,)"
      R"("device":"cpu","trainer":"ladder-train","simulated":false,"worker_name":"w1",)"
      R"("last_error":"","curve":[],"attempt_history":[]})";
  const std::string failed =
      R"({"id":"12","family":"transformer","state":"RUN_STATE_FAILED","config_json":"{}",)"
      R"("params":"0","non_embedding_params":"0","tokens":"0","final_eval_loss":0})";
  v1::ImportResultsRequest req;
  std::string error;
  ImportNotes notes;
  ASSERT_TRUE(ParseImportJson(R"({"runs":[)" + run + "," + failed + "]}", &req, &error, &notes))
      << error;
  EXPECT_TRUE(notes.ladder_export);
  EXPECT_EQ(notes.skipped, 1);
  ASSERT_EQ(req.results_size(), 1);
  const auto& r = req.results(0);
  EXPECT_EQ(r.params(), 1000000) << "non_embedding_params, not the total";
  EXPECT_EQ(r.tokens(), 20000000);
  EXPECT_EQ(r.unique_tokens(), 10000000);
  EXPECT_EQ(r.flops(), 1.3e14);
  EXPECT_EQ(r.final_loss(), 3.25);
  EXPECT_EQ(r.budget(), 1.5e14);
  EXPECT_EQ(r.seed(), 7);
}

// The export's descriptive columns are known in an export only: a
// hand-written table with one is refused naming it, and an export with a
// column export never writes is refused too.
TEST(ImportParserTest, ExportColumnsAreAcceptedInAnExportOnly) {
  v1::ImportResultsRequest req;
  std::string error;
  EXPECT_FALSE(ParseImportCsv("family,params,tokens,loss,shape\nlstm,1,2,3,d=4\n", &req, &error));
  EXPECT_EQ(error, std::string("line 1: unknown column 'shape' ") + kAccepted);
  EXPECT_FALSE(
      ParseImportCsv("run_id,state,family,non_embedding_params,tokens,final_eval_loss,"
                     "isoflop_budget\n",
                     &req, &error));
  EXPECT_EQ(error,
            "line 1: unknown column 'isoflop_budget' in a ladder export CSV (accepted: family, "
            "non_embedding_params, tokens, final_eval_loss, flops, unique_tokens, budget, seed, "
            "state; read by nothing: params, run_id, sweep_id, ordinal, shape, attempts, "
            "planned_params, planned_non_embedding_params, planned_tokens, planned_flops, "
            "planned_flops_6nd, epochs, flops_6nd, wall_seconds, device, trainer, simulated, "
            "worker, learning_rate)");
  // An export's loss is final_eval_loss: loss (a hand-written table's) is not one of its columns.
  EXPECT_FALSE(ParseImportCsv("run_id,state,family,params,tokens,loss\n", &req, &error));
  EXPECT_NE(error.find("unknown column 'loss' in a ladder export CSV"), std::string::npos) << error;
  EXPECT_FALSE(ParseImportCsv("run_id,state,family,params,tokens,final_eval_loss\n", &req, &error));
  EXPECT_EQ(error, "line 1: missing column 'non_embedding_params' (a ladder export CSV)");
  EXPECT_FALSE(ParseImportJson(R"({"runs":[{"family":"a","state":"RUN_STATE_SUCCEEDED",)"
                               R"("non_embedding_params":"1","tokens":"2","final_eval_loss":3,)"
                               R"("loss":3}]})",
                               &req, &error));
  EXPECT_NE(error.find("runs[0]: unknown key 'loss' in a ladder export JSON"), std::string::npos)
      << error;
  EXPECT_FALSE(ParseImportJson(R"({"runs":[{"family":"a","state":"RUN_STATE_SUCCEEDED",)"
                               R"("non_embedding_params":"1e","tokens":"2","final_eval_loss":3}]})",
                               &req, &error));
  EXPECT_EQ(error, "runs[0].non_embedding_params: must be a number");
  EXPECT_FALSE(ParseImportJson(R"({"rows":[]})", &req, &error));
  EXPECT_EQ(error, R"(expected a JSON array of results, or ladder export's {"runs": [...]})");
}

}  // namespace
}  // namespace ladder::cli
