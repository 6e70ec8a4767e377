// Bounds on what one sweep, or a stream of them, costs the coordinator:
// families per sweep (each is a fit per form at every refit and gauges on
// /metrics) and the per-sweep series on /metrics once sweeps have ended.
// Real PostgreSQL, real sockets, the coordinator's own /metrics endpoint.
// Observations are SIMULATED from known laws (simulated_observations.h).
#include <grpcpp/grpcpp.h>
#include <gtest/gtest.h>

#include <cmath>
#include <set>
#include <thread>

#include "server/coordinator_metrics.h"
#include "server/fit/simulated_observations.h"
#include "server/store/sweep_store.h"
#include "tests/testing/coordinator_harness.h"
#include "tests/testing/http_get.h"
#include "tests/testing/test_database.h"

namespace ladder {
namespace {

using testing::CoordinatorHarness;
using namespace std::chrono_literals;

class SweepBoundsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    h_ = std::make_unique<CoordinatorHarness>(db_.url(), [](CoordinatorOptions& o) {
      o.refit_debounce = std::chrono::milliseconds(20);
      o.bootstrap_resamples = 20;
    });
  }

  static void AddResult(v1::ImportResultsRequest* req, const fit::Observation& o) {
    auto* r = req->add_results();
    r->set_family(o.family);
    r->set_params(o.params);
    r->set_tokens(o.tokens);
    r->set_flops(o.flops);
    r->set_final_loss(o.loss);
    r->set_unique_tokens(o.unique_tokens);
  }

  // Imports runs on a power law in compute (SIMULATED) that power_law_compute
  // fits, the largest having repeated a 1e9-token corpus; returns the sweep id.
  int64_t ImportPowerLaw(const std::string& name) {
    fit::PowerLawInCompute law;
    law.E = 1.8;
    law.A = 2e3;
    law.alpha = 0.15;
    v1::ImportResultsRequest req;
    req.set_name(name);
    std::vector<fit::Observation> runs =
        fit::SimulatePowerLawRuns(law, fit::LogSpaced(1e15, 1e19, 6), 0.005, 3, 0, 0.05, "f");
    runs.back().unique_tokens = 1e9;  // D = sqrt(20 C / 6) = 5.8e9 tokens
    for (const auto& o : runs) AddResult(&req, o);
    v1::Sweep s;
    grpc::Status st = h_->sweeps().ImportResults(CoordinatorHarness::Ctx().get(), req, &s);
    EXPECT_TRUE(st.ok()) << st.error_message();
    return s.id();
  }

  std::string Metrics() {
    int status = 0;
    std::string text =
        testing::HttpGet("127.0.0.1", h_->coordinator().metrics_port(), "/metrics", &status);
    EXPECT_EQ(status, 200);
    return text;
  }

  static bool HasSweep(const std::string& metrics, int64_t sweep) {
    return metrics.find("sweep=\"" + std::to_string(sweep) + "\"") != std::string::npos;
  }

  // Polls /metrics (up to 60 s) until `done` holds; returns the last text.
  template <typename Pred>
  std::string WaitForMetrics(Pred done) {
    std::string text;
    for (int i = 0; i < 600; ++i) {
      text = Metrics();
      if (done(text)) break;
      std::this_thread::sleep_for(100ms);
    }
    return text;
  }

  testing::TestDatabase db_;
  std::unique_ptr<CoordinatorHarness> h_;
};

TEST_F(SweepBoundsTest, ImportOfMoreFamiliesThanTheBoundIsRefusedWhole) {
  const int kBound = store::kMaxFamiliesPerSweep;
  ASSERT_EQ(kBound, 16);
  auto request = [](int families) {
    v1::ImportResultsRequest req;
    req.set_name("families-" + std::to_string(families));
    for (int i = 0; i < families; ++i) {
      fit::Observation o;
      o.family = "f" + std::to_string(i);
      o.params = 1e6;
      o.tokens = 2e7;
      o.loss = 3.0;
      AddResult(&req, o);
      AddResult(&req, o);  // a family may have many runs: it is families that count
    }
    return req;
  };
  v1::Sweep s;
  grpc::Status st =
      h_->sweeps().ImportResults(CoordinatorHarness::Ctx().get(), request(kBound + 1), &s);
  EXPECT_EQ(st.error_code(), grpc::StatusCode::INVALID_ARGUMENT);
  EXPECT_EQ(st.error_message(),
            "results[32].family: 'f16' would be family 17 of the import; a sweep holds at most "
            "16 families");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM sweeps WHERE name = 'families-17'"), "0");
  EXPECT_EQ(db_.Query("SELECT count(*) FROM runs"), "0");

  st = h_->sweeps().ImportResults(CoordinatorHarness::Ctx().get(), request(kBound), &s);
  ASSERT_TRUE(st.ok()) << st.error_message();
  EXPECT_EQ(s.families_size(), kBound);
}

TEST_F(SweepBoundsTest, SeriesOfEndedSweepsLeaveMetricsOnceNewerSweepsEnded) {
  // A planned sweep, cancelled: its ladder_runs series appear, then go.
  int64_t worker = 0;
  ASSERT_TRUE(h_->RegisterCpuWorker("w", &worker).ok());
  v1::CreateSweepRequest create;
  create.set_spec_yaml(
      "name: cancelled\nkind: grid\nfamilies: [transformer]\n"
      "grid: {params: [1e5], tokens: [4096, 8192]}\n");
  v1::CreateSweepResponse created;
  grpc::Status st = h_->sweeps().CreateSweep(CoordinatorHarness::Ctx().get(), create, &created);
  ASSERT_TRUE(st.ok()) << st.error_message();
  const int64_t cancelled = created.sweep().id();
  v1::CancelSweepRequest cancel;
  cancel.set_sweep_id(cancelled);
  v1::Sweep ended;
  ASSERT_TRUE(h_->sweeps().CancelSweep(CoordinatorHarness::Ctx().get(), cancel, &ended).ok());

  // An imported sweep (ended from the start): its final fits are published.
  const int64_t first = ImportPowerLaw("first");
  // The run counts come from the maintenance pass, the fit gauges from the
  // refit: wait for both.
  const std::string first_succeeded =
      "ladder_runs{state=\"succeeded\",sweep=\"" + std::to_string(first) + "\"}";
  std::string text = WaitForMetrics([&](const std::string& t) {
    return HasSweep(t, cancelled) && testing::MetricValue(t, first_succeeded) == 6 &&
           t.find(
               "ladder_fit_parameter{family=\"f\",form=\"power_law_compute\",parameter="
               "\"alpha\",sweep=\"" +
               std::to_string(first) + "\"}") != std::string::npos &&
           t.find("ladder_predicted_epochs{family=\"f\",sweep=\"" + std::to_string(first)) !=
               std::string::npos;
  });
  ASSERT_TRUE(HasSweep(text, cancelled)) << text;
  ASSERT_TRUE(HasSweep(text, first)) << text;
  EXPECT_EQ(testing::MetricValue(text, first_succeeded), 6);
  // What the prediction stands on: no parameter on a bound, and the target
  // (100x the largest run, D = sqrt(20 C / 6) = 5.8e10 tokens) needs 58
  // epochs of the corpus.
  const std::string labels =
      "{family=\"f\",form=\"power_law_compute\",sweep=\"" + std::to_string(first) + "\"}";
  EXPECT_EQ(testing::MetricValue(text, "ladder_fit_parameters_at_bound" + labels), 0) << text;
  EXPECT_NEAR(testing::MetricValue(text, "ladder_predicted_epochs{family=\"f\",sweep=\"" +
                                             std::to_string(first) + "\"}"),
              std::sqrt(20 * 1e21 / 6) / 1e9, 0.5)
      << text;

  // As many newer sweeps end as the coordinator keeps series for: the two
  // older ones' series (runs, fitted parameters, predictions) are removed.
  int64_t last = 0;
  for (int i = 0; i < CoordinatorMetrics::kEndedSweepsKept; ++i) {
    last = ImportPowerLaw("newer-" + std::to_string(i));
  }
  text = WaitForMetrics([&](const std::string& t) {
    return !HasSweep(t, cancelled) && !HasSweep(t, first) &&
           t.find("ladder_predicted_loss{family=\"f\",sweep=\"" + std::to_string(last) + "\"}") !=
               std::string::npos;
  });
  EXPECT_FALSE(HasSweep(text, cancelled)) << text;
  EXPECT_FALSE(HasSweep(text, first)) << text;
  EXPECT_TRUE(HasSweep(text, last)) << text;
  std::set<std::string> sweeps;
  for (size_t at = text.find("sweep=\""); at != std::string::npos;
       at = text.find("sweep=\"", at + 1)) {
    sweeps.insert(text.substr(at + 7, text.find('"', at + 7) - at - 7));
  }
  EXPECT_LE(static_cast<int>(sweeps.size()), CoordinatorMetrics::kEndedSweepsKept) << text;
}

}  // namespace
}  // namespace ladder
