// Fits.Backtest and `ladder backtest` end to end: real PostgreSQL, real
// sockets. Every loss here is SIMULATED from a known law, so a backtest's
// errors can be held to the simulated noise: a grid run through ladder-sim
// workers (its Chinchilla law, 0.5% noise), and imported runs on a power law
// in compute (server/fit/simulated_observations.h, 0.3% noise).
#include <google/protobuf/util/json_util.h>
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <fstream>
#include <future>
#include <iterator>
#include <set>
#include <thread>

#include "server/backtests.h"
#include "server/fit/simulated_observations.h"
#include "server/refit_loop.h"
#include "tests/testing/coordinator_harness.h"
#include "tests/testing/http_get.h"
#include "tests/testing/local_stack.h"
#include "tests/testing/test_database.h"

namespace ladder {
namespace {

using testing::CliResult;
using testing::CoordinatorHarness;
using testing::LocalStack;
using namespace std::chrono_literals;

std::unique_ptr<grpc::ClientContext> LongCtx() {
  auto ctx = std::make_unique<grpc::ClientContext>();
  ctx->set_deadline(std::chrono::system_clock::now() + 120s);
  return ctx;
}

// What a backtest of runs SIMULATED from the fitted form's own law must
// show (SCIENCE.md, "Backtest"): predictions a few times past the cut are
// off by about the noise (mean |error| under 3 sigma in the first
// half-decade of extrapolation); further out the fit's own spread adds to
// the error, which the 95% intervals must cover for >= 90% of all
// predictions; nothing is wildly off. Returns the number of predictions.
int ExpectWithinTheNoise(const v1::BacktestResponse& r, double sigma) {
  int predictions = 0, covered = 0, near = 0;
  double near_abs_error = 0;
  for (const auto& c : r.cuts()) {
    for (const auto& p : c.predictions()) {
      ++predictions;
      covered += p.covered();
      EXPECT_GT(p.extrapolation_factor(), 1.0) << "a prediction is of a run above its cut";
      EXPECT_LE(p.predicted_loss().lower(), p.predicted_loss().upper());
      EXPECT_LE(p.run_loss().lower(), p.run_loss().upper());
      EXPECT_EQ(p.covered(),
                p.run_loss().lower() <= p.actual_loss() && p.actual_loss() <= p.run_loss().upper());
      EXPECT_LT(std::fabs(p.relative_error()), 0.1) << c.ShortDebugString();
      if (p.extrapolation_factor() < std::sqrt(10.0)) {
        ++near;
        near_abs_error += std::fabs(p.relative_error());
      }
    }
  }
  EXPECT_GT(near, 0);
  if (near > 0) EXPECT_LT(near_abs_error / near, 3 * sigma) << "within ~3x of the cut";
  EXPECT_GE(covered, 0.9 * predictions) << covered << " of " << predictions << " covered";
  int binned = 0;
  for (const auto& b : r.by_factor()) binned += b.predictions();
  EXPECT_EQ(binned, predictions) << "every prediction is in one factor bin";
  return predictions;
}

class BacktestApiTest : public ::testing::Test {
 protected:
  testing::TestDatabase db_;
};

// A harness coordinator with SIMULATED runs on a power law in compute
// imported into it (two families).
class ImportedBacktestTest : public BacktestApiTest {
 protected:
  void SetUp() override {
    h_ = std::make_unique<CoordinatorHarness>(db_.url(), [](CoordinatorOptions& o) {
      o.refit_debounce = std::chrono::milliseconds(50);
      o.fit_cache_ttl = std::chrono::milliseconds(0);
      o.bootstrap_resamples = 100;
    });
    fits_ = v1::Fits::NewStub(h_->channel());
    fit::PowerLawInCompute strong, weak;
    strong.E = 1.5;
    strong.A = 40;
    strong.alpha = 0.09;
    weak = strong;
    weak.alpha = 0.065;
    const auto computes = fit::LogSpaced(1e14, 1e17, 8);
    auto runs = fit::SimulatePowerLawRuns(strong, computes, kSigma, 3, 0, 0, "transformer");
    auto lstm = fit::SimulatePowerLawRuns(weak, computes, kSigma, 4, 0, 0, "lstm");
    runs.insert(runs.end(), lstm.begin(), lstm.end());
    v1::Sweep s;
    grpc::Status st = h_->ImportObservations("simulated power law", runs, &s);
    ASSERT_TRUE(st.ok()) << st.error_message();
    sweep_ = s.id();
    ASSERT_TRUE(h_->coordinator().refit_loop()->AwaitCompleted(1)) << "the import is fitted";
  }

  grpc::Status Backtest(const std::string& family, const std::string& form,
                        v1::BacktestResponse* out, int64_t sweep = 0) {
    v1::BacktestRequest req;
    req.set_sweep_id(sweep ? sweep : sweep_);
    req.set_family(family);
    req.set_form(form);
    return fits_->Backtest(LongCtx().get(), req, out);
  }

  std::vector<int64_t> LatestFitIds(const std::string& form) {
    v1::GetFitRequest req;
    req.set_sweep_id(sweep_);
    req.set_form(form);
    v1::GetFitResponse resp;
    EXPECT_TRUE(fits_->GetFit(CoordinatorHarness::Ctx().get(), req, &resp).ok());
    std::vector<int64_t> ids;
    for (const auto& f : resp.fits()) ids.push_back(f.id());
    std::sort(ids.begin(), ids.end());
    return ids;
  }

  static constexpr double kSigma = 0.003;
  std::unique_ptr<CoordinatorHarness> h_;
  std::unique_ptr<v1::Fits::Stub> fits_;
  int64_t sweep_ = 0;
};

TEST_F(ImportedBacktestTest, PredictsLaterRunsWithinTheNoiseAndIsCachedPerFitVersion) {
  // The default form: the shared-E law where the sweep has a usable one.
  v1::GetFitRequest shared;
  shared.set_sweep_id(sweep_);
  shared.set_form("power_law_shared_e");
  v1::GetFitResponse shared_fits;
  ASSERT_TRUE(fits_->GetFit(CoordinatorHarness::Ctx().get(), shared, &shared_fits).ok());
  bool shared_ok = false;
  for (const auto& f : shared_fits.fits()) shared_ok |= f.status() == "ok";
  const std::string form = shared_ok ? "power_law_shared_e" : "power_law_compute";

  v1::BacktestResponse first;
  grpc::Status st = Backtest("", "", &first);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(first.sweep_id(), sweep_);
  EXPECT_EQ(first.form(), form);
  EXPECT_FALSE(first.cached());
  EXPECT_GT(first.compute_seconds(), 0);
  const std::vector<int64_t> ids(first.fit_ids().begin(), first.fit_ids().end());
  EXPECT_EQ(ids, LatestFitIds(form)) << "the version is the latest fit of each family";
  std::set<std::string> families;
  for (const auto& c : first.cuts()) families.insert(c.family());
  EXPECT_EQ(families, (std::set<std::string>{"lstm", "transformer"}));
  EXPECT_GE(ExpectWithinTheNoise(first, kSigma), 10);

  // The same versions: from the cache, computed once.
  const int computed = h_->coordinator().backtests()->computed();
  v1::BacktestResponse again;
  ASSERT_TRUE(Backtest("", "", &again).ok());
  EXPECT_TRUE(again.cached());
  EXPECT_EQ(again.cuts_size(), first.cuts_size());
  EXPECT_EQ(h_->coordinator().backtests()->computed(), computed);

  // A new fit version (a refit stores one per form and family): recomputed.
  ASSERT_TRUE(h_->coordinator().refit_loop()->RefitNow(sweep_).ok());
  v1::BacktestResponse newer;
  ASSERT_TRUE(Backtest("", "", &newer).ok());
  EXPECT_FALSE(newer.cached());
  EXPECT_EQ(h_->coordinator().backtests()->computed(), computed + 1);
  const std::vector<int64_t> newer_ids(newer.fit_ids().begin(), newer.fit_ids().end());
  EXPECT_EQ(newer_ids, LatestFitIds(form));
  EXPECT_GT(newer_ids, ids);

  // Operators see the computations and the answers.
  const std::string metrics =
      testing::HttpGet("127.0.0.1", h_->coordinator().metrics_port(), "/metrics");
  EXPECT_EQ(testing::MetricValue(metrics, "ladder_backtests_total{answer=\"computed\"}"), 2);
  EXPECT_EQ(testing::MetricValue(metrics, "ladder_backtests_total{answer=\"cached\"}"), 1);
  EXPECT_EQ(testing::MetricValue(metrics, "ladder_backtest_duration_seconds_count{status=\"ok\"}"),
            2);
}

TEST_F(ImportedBacktestTest, AnswersWhileStillComputingAndSharesTheComputation) {
  v1::BacktestRequest req;
  req.set_sweep_id(sweep_);
  req.set_family("lstm");
  req.set_form("power_law_compute");
  Backtests* backtests = h_->coordinator().backtests();
  const int computed = backtests->computed();
  // A caller out of time gets UNAVAILABLE; the backtest goes on.
  auto early = backtests->Run(req, 1ms);
  ASSERT_EQ(early.status().code(), absl::StatusCode::kUnavailable) << early.status();
  EXPECT_EQ(early.status().message(),
            "backtest of sweep " + std::to_string(sweep_) + " still computing; retry");
  // Identical calls meanwhile wait for that same computation.
  auto a = std::async(std::launch::async, [&] { return backtests->Run(req, 60s); });
  auto b = std::async(std::launch::async, [&] { return backtests->Run(req, 60s); });
  auto ra = a.get(), rb = b.get();
  ASSERT_TRUE(ra.ok()) << ra.status();
  ASSERT_TRUE(rb.ok()) << rb.status();
  EXPECT_EQ(backtests->computed(), computed + 1) << "three identical calls, one computation";
  for (const auto& c : ra->cuts()) EXPECT_EQ(c.family(), "lstm");
  EXPECT_EQ(ra->cuts_size(), rb->cuts_size());
}

TEST_F(ImportedBacktestTest, RequestsAreValidatedNamingTheField) {
  v1::BacktestResponse r;
  grpc::Status missing = Backtest("", "", &r, 99999);
  EXPECT_EQ(missing.error_code(), grpc::StatusCode::NOT_FOUND) << missing.error_message();
  grpc::Status family = Backtest("gru", "", &r);
  EXPECT_EQ(family.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(family.error_message().rfind("family: sweep", 0), 0u) << family.error_message();
  grpc::Status form = Backtest("", "cubic", &r);
  EXPECT_EQ(form.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(form.error_message().rfind("form: unknown form 'cubic'", 0), 0u)
      << form.error_message();
  grpc::Status isoflop = Backtest("lstm", "isoflop", &r);
  EXPECT_EQ(isoflop.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(isoflop.error_message().rfind("form: isoflop", 0), 0u) << isoflop.error_message();
}

// A compute-optimal ladder of ladder-sim runs through coordinator and worker
// processes, backtested through the CLI. SIMULATED: the transformer law
// with B = 0, L = E + A N^-alpha with 0.5% noise, which at 20 tokens per
// parameter is a power law in compute (C ~ 120 N^2), the form backtested.
TEST_F(BacktestApiTest, CliBacktestsALadderSimSweepWithinTheNoise) {
  constexpr double kSimNoise = 0.005;
  LocalStack stack(db_.url(), {"--refit-debounce=100ms", "--bootstrap-resamples=60"});
  stack.StartWorker("w1", 2);
  const std::string yaml =
      "name: backtest\nkind: ladder\nfamilies: [transformer]\n"
      "train: {batch_tokens: 4096}\n"
      "ladder: {min_params: 1e5, max_params: 1e7, steps: 10, tokens_per_param: 20}\n"
      "simulation: {seconds: 0.1, noise: 0.005, law: {B: 0}}\n";
  const std::string spec = stack.dir() + "/sweep.yaml";
  std::ofstream(spec) << yaml;
  CliResult submitted = stack.Cli({"submit", spec});
  ASSERT_EQ(submitted.exit_code, 0) << submitted.err;
  const std::string sweep = std::to_string(std::atoll(submitted.out.c_str()));
  CliResult watch = stack.Cli({"watch", sweep}, 120);
  ASSERT_EQ(watch.exit_code, 0) << watch.out << watch.err;
  std::string used;
  for (int i = 0; i < 300 && used != "10"; ++i) {
    used = db_.Query("SELECT max(runs_used) FROM fits WHERE form = 'power_law_compute'");
    std::this_thread::sleep_for(100ms);
  }
  ASSERT_EQ(used, "10");

  CliResult json = stack.Cli({"backtest", sweep, "--form", "power_law_compute", "--json"});
  ASSERT_EQ(json.exit_code, 0) << json.err;
  v1::BacktestResponse parsed;
  ASSERT_TRUE(google::protobuf::util::JsonStringToMessage(json.out, &parsed).ok()) << json.out;
  EXPECT_EQ(parsed.form(), "power_law_compute");
  for (const auto& c : parsed.cuts()) EXPECT_EQ(c.family(), "transformer");
  EXPECT_GE(ExpectWithinTheNoise(parsed, kSimNoise), 15);

  const std::string svg = stack.dir() + "/backtest.svg";
  CliResult table = stack.Cli({"backtest", sweep, "--form", "power_law_compute", "--plot", svg});
  ASSERT_EQ(table.exit_code, 0) << table.err;
  EXPECT_NE(table.out.find("cached"), std::string::npos) << "same fit versions:\n" << table.out;
  EXPECT_NE(table.out.find("transformer, cut C <="), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("covered"), std::string::npos) << table.out;
  EXPECT_NE(table.out.find("by extrapolation factor"), std::string::npos) << table.out;
  std::ifstream in(svg);
  const std::string text((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  EXPECT_NE(text.find("<svg"), std::string::npos);
  EXPECT_NE(text.find("transformer"), std::string::npos);
  EXPECT_NE(text.find("<circle"), std::string::npos);

  for (const auto& [args, flag] : std::vector<std::pair<std::vector<std::string>, std::string>>{
           {{"backtest", sweep, "--form", "isoflop"}, "--form: isoflop"},
           {{"backtest", sweep, "--bogus"}, "--bogus"},
           {{"backtest", sweep, "--family", "gru"}, "--family: sweep"},
           {{"backtest", sweep, "--plot", stack.dir() + "/x.png"}, "--plot: must end in .svg"}}) {
    CliResult bad = stack.Cli(args);
    EXPECT_EQ(bad.exit_code, 2) << bad.err;
    EXPECT_EQ(bad.err.rfind("ladder: ", 0), 0u) << bad.err;
    EXPECT_NE(bad.err.find(flag), std::string::npos) << bad.err;
    EXPECT_EQ(std::count(bad.err.begin(), bad.err.end(), '\n'), 1) << "one line:\n" << bad.err;
  }
  CliResult missing = stack.Cli({"backtest", "99999"});
  EXPECT_EQ(missing.exit_code, 2) << missing.err;
}

}  // namespace
}  // namespace ladder
