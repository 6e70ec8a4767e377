// The Fits API end to end in one process: results arrive (imported, or
// completed through the Agent API), the refit loop fits them off the RPC
// path and stores versioned fits, and predictions come back with intervals.
// Real PostgreSQL, real sockets. Observations are SIMULATED from known laws
// (server/fit/simulated_observations.h) so the answers can be checked.
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <nlohmann/json.hpp>
#include <thread>

#include "common/protocol/trainer_events.h"
#include "server/fit/simulated_observations.h"
#include "tests/testing/coordinator_harness.h"
#include "tests/testing/test_database.h"

namespace ladder {
namespace {

using testing::CoordinatorHarness;
using namespace std::chrono_literals;

fit::ChinchillaLaw Law(double e, double a, double alpha, double b, double beta) {
  fit::ChinchillaLaw law;
  law.E = e;
  law.A = a;
  law.alpha = alpha;
  law.B = b;
  law.beta = beta;
  return law;
}

double TrueLoss(const fit::ChinchillaLaw& l, double n, double d) {
  return l.E + l.A / std::pow(n, l.alpha) + l.B / std::pow(d, l.beta);
}

class FitApiTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<CoordinatorHarness>(db_.url(), [](CoordinatorOptions& o) {
      o.refit_debounce = std::chrono::milliseconds(50);
      o.fit_cache_ttl = std::chrono::milliseconds(0);
      o.bootstrap_resamples = 100;
    });
    fits_ = v1::Fits::NewStub(h_->channel());
  }

  // Imports SIMULATED results; returns the sweep id.
  int64_t Import(const std::string& name, const std::vector<fit::Observation>& runs) {
    v1::Sweep s;
    grpc::Status st = h_->ImportObservations(name, runs, &s);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return s.id();
  }

  // Waits until the sweep has a fit of `form` for `family`; returns it.
  v1::Fit WaitForFit(int64_t sweep, const std::string& family, const std::string& form,
                     int min_version = 1) {
    for (int i = 0; i < 600; ++i) {
      v1::GetFitRequest req;
      req.set_sweep_id(sweep);
      req.set_family(family);
      req.set_form(form);
      v1::GetFitResponse resp;
      if (fits_->GetFit(CoordinatorHarness::Ctx().get(), req, &resp).ok() &&
          resp.fits_size() == 1 && resp.fits(0).version() >= min_version) {
        return resp.fits(0);
      }
      std::this_thread::sleep_for(50ms);
    }
    ADD_FAILURE() << "no " << form << " fit for " << family << " in sweep " << sweep;
    return v1::Fit();
  }

  static double Param(const v1::Fit& f, const std::string& name) {
    for (const auto& p : f.parameters()) {
      if (p.name() == name) return p.value().estimate();
    }
    return NAN;
  }

  testing::TestDatabase db_;
  std::unique_ptr<CoordinatorHarness> h_;
  std::unique_ptr<v1::Fits::Stub> fits_;
};

TEST_F(FitApiTest, ImportedRunsAreFittedAndAnswerPredictionsWithIntervals) {
  const auto law = Law(1.7, 400, 0.34, 410, 0.28);
  auto runs = fit::SimulateGrid(law, fit::LogSpaced(1e7, 1e9, 6), fit::LogSpaced(2e8, 2e10, 6),
                                0.01, 7, "transformer");
  const int64_t sweep = Import("chinchilla-like", runs);
  const v1::Fit f = WaitForFit(sweep, "transformer", "chinchilla");
  ASSERT_EQ(f.status(), "ok") << f.reason();
  EXPECT_EQ(f.runs_used(), 36);
  EXPECT_NEAR(Param(f, "alpha"), 0.34, 0.05);
  EXPECT_NEAR(Param(f, "beta"), 0.28, 0.05);
  EXPECT_GT(f.bootstrap_resamples(), 50);

  // Loss at (N, D) ten times past the grid's largest run.
  v1::PredictLossRequest p;
  p.set_sweep_id(sweep);
  p.set_family("transformer");
  p.set_params(3e9);
  p.set_tokens(6e10);
  v1::PredictLossResponse pr;
  ASSERT_TRUE(fits_->PredictLoss(CoordinatorHarness::Ctx().get(), p, &pr).ok());
  const double truth = TrueLoss(law, 3e9, 6e10);
  EXPECT_EQ(pr.form(), "chinchilla");
  EXPECT_NEAR(pr.loss().estimate(), truth, 0.02 * truth);
  EXPECT_LE(pr.loss().lower(), pr.loss().estimate());
  EXPECT_GE(pr.loss().upper(), pr.loss().estimate());
  EXPECT_GT(pr.extrapolation_factor(), 1.0);

  // Loss at a compute budget, and the compute-optimal allocation there.
  v1::PredictLossRequest pc;
  pc.set_sweep_id(sweep);
  pc.set_family("transformer");
  pc.set_compute(1e22);
  v1::PredictLossResponse pcr;
  ASSERT_TRUE(fits_->PredictLoss(CoordinatorHarness::Ctx().get(), pc, &pcr).ok());
  EXPECT_GT(pcr.loss().estimate(), law.E);
  v1::OptimalAllocationRequest o;
  o.set_sweep_id(sweep);
  o.set_family("transformer");
  o.set_compute(1e22);
  v1::OptimalAllocationResponse orr;
  ASSERT_TRUE(fits_->OptimalAllocation(CoordinatorHarness::Ctx().get(), o, &orr).ok());
  EXPECT_NEAR(6 * orr.params().estimate() * orr.tokens().estimate() / 1e22, 1.0, 1e-6) << "C = 6ND";
  EXPECT_EQ(orr.form(), "chinchilla");
}

TEST_F(FitApiTest, BetterFamilyHasAComputeEquivalentGainAboveOne) {
  fit::PowerLawInCompute strong, weak;
  strong.E = 1.5;
  strong.A = 40;
  strong.alpha = 0.09;
  weak.E = 1.5;
  weak.A = 40;
  weak.alpha = 0.065;
  const auto computes = fit::LogSpaced(1e14, 1e18, 12);
  auto runs = fit::SimulatePowerLawRuns(strong, computes, 0.003, 3, 0, 0, "transformer");
  auto lstm = fit::SimulatePowerLawRuns(weak, computes, 0.003, 4, 0, 0, "lstm");
  runs.insert(runs.end(), lstm.begin(), lstm.end());
  const int64_t sweep = Import("families", runs);
  ASSERT_EQ(WaitForFit(sweep, "transformer", "power_law_compute").status(), "ok");
  ASSERT_EQ(WaitForFit(sweep, "lstm", "power_law_compute").status(), "ok");
  v1::CompareFamiliesRequest c;
  c.set_sweep_id(sweep);
  c.set_base_family("lstm");
  c.set_family("transformer");
  c.set_max_compute(1e20);
  c.set_points(5);
  v1::CompareFamiliesResponse cr;
  grpc::Status st = fits_->CompareFamilies(CoordinatorHarness::Ctx().get(), c, &cr);
  ASSERT_TRUE(st.ok()) << st.error_message();
  ASSERT_EQ(cr.points_size(), 5);
  for (int i = 0; i < cr.points_size(); ++i) {
    EXPECT_GT(cr.points(i).gain().estimate(), 1.0);
    if (i)
      EXPECT_GT(cr.points(i).gain().estimate(), cr.points(i - 1).gain().estimate())
          << "the gain grows with C";
  }
  EXPECT_GT(cr.points(4).extrapolation_factor(), 1.0) << "1e20 is past the trained 1e18";
}

TEST_F(FitApiTest, TooFewRunsGiveAStoredFitWithAReasonAndPredictionsSaySo) {
  const auto law = Law(1.7, 400, 0.34, 410, 0.28);
  const int64_t sweep = Import("tiny", fit::SimulateGrid(law, {1e7}, {2e8, 4e8}, 0.01, 1, "lstm"));
  const v1::Fit f = WaitForFit(sweep, "lstm", "chinchilla");
  EXPECT_EQ(f.status(), "insufficient_data");
  EXPECT_FALSE(f.reason().empty());
  v1::PredictLossRequest p;
  p.set_sweep_id(sweep);
  p.set_family("lstm");
  p.set_params(1e8);
  p.set_tokens(1e9);
  v1::PredictLossResponse pr;
  grpc::Status st = fits_->PredictLoss(CoordinatorHarness::Ctx().get(), p, &pr);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::FAILED_PRECONDITION);
  EXPECT_NE(st.error_message().find("insufficient_data"), std::string::npos) << st.error_message();
}

TEST_F(FitApiTest, RequestsAreValidatedNamingTheField) {
  const auto law = Law(1.7, 400, 0.34, 410, 0.28);
  const int64_t sweep = Import("v", fit::SimulateGrid(law, {1e7, 1e8}, {2e8}, 0.01, 1, "lstm"));
  auto predict = [&](double n, double d, double c, const std::string& family, int64_t s) {
    v1::PredictLossRequest p;
    p.set_sweep_id(s);
    p.set_family(family);
    p.set_params(n);
    p.set_tokens(d);
    p.set_compute(c);
    v1::PredictLossResponse r;
    return fits_->PredictLoss(CoordinatorHarness::Ctx().get(), p, &r);
  };
  grpc::Status both = predict(1e8, 1e9, 1e20, "lstm", sweep);
  EXPECT_EQ(both.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(both.error_message().rfind("compute:", 0), 0u) << both.error_message();
  grpc::Status neg = predict(-1, 1e9, 0, "lstm", sweep);
  EXPECT_EQ(neg.error_message(), "params: must be positive");
  grpc::Status fam = predict(0, 0, 1e20, "gru", sweep);
  EXPECT_EQ(fam.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(fam.error_message().rfind("family: sweep", 0), 0u) << fam.error_message();
  EXPECT_EQ(predict(0, 0, 1e20, "lstm", 9999).error_code(), grpc::StatusCode::NOT_FOUND);

  v1::ImportResultsRequest bad;
  bad.set_name("bad");
  auto* r = bad.add_results();
  r->set_family("lstm");
  r->set_params(1e6);
  r->set_tokens(1e7);
  r->set_final_loss(2.0);
  r = bad.add_results();
  r->set_family("lstm");
  r->set_params(1e6);
  r->set_tokens(1e7);
  r->set_final_loss(-1);
  v1::Sweep s;
  grpc::Status st = h_->sweeps().ImportResults(CoordinatorHarness::Ctx().get(), bad, &s);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(), "results[1].final_loss: must be positive");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM sweeps WHERE name = 'bad'"), "0");
}

TEST_F(FitApiTest, FitsAreVersionedAsResultsArriveAndWatchersSeeThem) {
  // A grid sweep whose results come in through the Agent API, losses from a
  // known law (SIMULATED), one batch at a time.
  v1::CreateSweepRequest create;
  create.set_spec_yaml(
      "name: climbing\nkind: grid\nfamilies: [transformer]\n"
      "grid: {params: [3e4, 1e5, 3e5], tokens: [409600, 1228800, 4096000]}\n");
  v1::CreateSweepResponse created;
  ASSERT_TRUE(h_->sweeps().CreateSweep(CoordinatorHarness::Ctx().get(), create, &created).ok());
  const int64_t sweep = created.sweep().id();
  int64_t worker = 0;
  ASSERT_TRUE(h_->RegisterCpuWorker("w", &worker).ok());

  std::vector<v1::SweepEvent> events;
  std::thread watcher([&] {
    grpc::ClientContext ctx;
    ctx.set_deadline(std::chrono::system_clock::now() + 60s);
    v1::WatchSweepRequest req;
    req.set_sweep_id(sweep);
    auto reader = h_->sweeps().WatchSweep(&ctx, req);
    v1::SweepEvent e;
    while (reader->Read(&e)) events.push_back(e);
    reader->Finish();
  });

  const auto law = Law(0.7, 30, 0.3, 60, 0.28);
  int done = 0;
  int last_version = 0;
  for (int batch = 0; batch < 3; ++batch) {
    for (int i = 0; i < 3; ++i) {
      v1::LeaseRunRequest lr;
      lr.set_worker_id(worker);
      v1::LeaseRunResponse lease;
      ASSERT_TRUE(h_->agent().LeaseRun(CoordinatorHarness::Ctx().get(), lr, &lease).ok());
      ASSERT_TRUE(lease.granted());
      const auto config = nlohmann::json::parse(lease.lease().config_json());
      const int64_t tokens = config["train"]["tokens"];
      const double n = config["plan"]["target_params"];
      v1::CompleteAttemptRequest c;
      c.set_attempt_id(lease.lease().attempt_id());
      c.set_lease_token(lease.lease().lease_token());
      protocol::ResultEvent r;  // every required field; the others zero
      r.final_eval_loss = TrueLoss(law, n, tokens);
      r.params_total = r.params_non_embedding = static_cast<int64_t>(n);
      r.tokens = tokens;
      r.flops = config["plan"]["flops"].get<double>();
      r.flops_6n = 6 * n * tokens;
      c.set_result_json(protocol::WriteEventLine(r));
      v1::CompleteAttemptResponse cr;
      ASSERT_TRUE(h_->agent().CompleteAttempt(CoordinatorHarness::Ctx().get(), c, &cr).ok());
      ++done;
    }
    const v1::Fit f = WaitForFit(sweep, "transformer", "power_law_compute", last_version + 1);
    EXPECT_EQ(f.runs_used(), done) << "each refit uses every result so far";
    last_version = f.version();
  }
  watcher.join();
  EXPECT_GE(last_version, 3);
  v1::ListFitHistoryRequest hr;
  hr.set_sweep_id(sweep);
  hr.set_family("transformer");
  hr.set_form("power_law_compute");
  v1::ListFitHistoryResponse history;
  ASSERT_TRUE(fits_->ListFitHistory(CoordinatorHarness::Ctx().get(), hr, &history).ok());
  ASSERT_GE(history.fits_size(), 3);
  for (int i = 1; i < history.fits_size(); ++i) {
    EXPECT_EQ(history.fits(i).version(), history.fits(i - 1).version() + 1);
    EXPECT_GE(history.fits(i).runs_used(), history.fits(i - 1).runs_used());
  }
  int fits_seen = 0;
  for (const auto& e : events) fits_seen += e.fits_size();
  EXPECT_GE(fits_seen, 3) << "watchers see fits as they land";
}

}  // namespace
}  // namespace ladder
