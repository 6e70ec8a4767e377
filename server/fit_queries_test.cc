// FitQueries and FitCache over an in-memory fit source (no database): which
// fit answers, the errors that name the field at fault, and the cache's
// ttl on a FakeClock.
#include "server/fit_queries.h"

#include <gtest/gtest.h>

#include <cmath>

#include "server/fake_fit_data.h"
#include "server/fit/law_vector.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using fit::FitForm;

// L(C) = 1.5 + 100 C^-0.1, trained up to 1e18 FLOPs.
fit::FitResult PowerLaw(const std::string& family) {
  fit::FitResult r;
  r.form = FitForm::kPowerLawCompute;
  r.family = family;
  r.status = fit::FitStatus::kOk;
  r.law = {1.5, 100, 0.1};
  r.max_trained_flops = 1e18;
  r.min_trained_flops = 1e15;
  return r;
}

fit::FitResult Insufficient(FitForm form, const std::string& family) {
  fit::FitResult r;
  r.form = form;
  r.family = family;
  r.status = fit::FitStatus::kInsufficientData;
  r.reason = "2 runs, need 4";
  return r;
}

class FitQueriesTest : public ::testing::Test {
 protected:
  FitQueriesTest() : cache_(&data_, 1min, &clock_), queries_(&data_, &cache_) {
    data_.AddSweep(1, "grid", {"lstm", "transformer"});
  }

  v1::PredictLossRequest ByCompute(const std::string& family, double compute) {
    v1::PredictLossRequest req;
    req.set_sweep_id(1);
    req.set_family(family);
    req.set_compute(compute);
    return req;
  }

  FakeClock clock_;
  FakeFitData data_;
  FitCache cache_;
  FitQueries queries_;
};

TEST_F(FitQueriesTest, PredictsFromTheFirstUsableForm) {
  data_.AddFit(1, Insufficient(FitForm::kChinchilla, "lstm"));
  data_.AddFit(1, PowerLaw("lstm"));
  auto p = queries_.PredictLoss(ByCompute("lstm", 1e19));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->form(), "power_law_compute");
  EXPECT_EQ(p->fit_id(), 2);
  EXPECT_NEAR(p->loss().estimate(), 1.5 + 100 * std::pow(1e19, -0.1), 1e-9);
  EXPECT_NEAR(p->extrapolation_factor(), 10, 1e-9);
}

TEST_F(FitQueriesTest, NoUsableFitSaysWhyForEachForm) {
  data_.AddFit(1, Insufficient(FitForm::kChinchilla, "lstm"));
  auto p = queries_.PredictLoss(ByCompute("lstm", 1e19));
  EXPECT_EQ(p.status().code(), absl::StatusCode::kFailedPrecondition);
  EXPECT_EQ(p.status().message(),
            "no usable fit for family 'lstm' in sweep 1: power_law_shared_e: no fit yet; "
            "power_law_compute: no fit yet; chinchilla: insufficient_data (2 runs, need 4)");
}

TEST_F(FitQueriesTest, BadRequestsNameTheField) {
  auto family = queries_.PredictLoss(ByCompute("gru", 1e19));
  EXPECT_EQ(family.status().code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(family.status().message(),
            "family: sweep 1 has no family 'gru' (it has lstm, transformer)");
  EXPECT_EQ(queries_.PredictLoss(ByCompute("", 1e19)).status().message(), "family: required");
  EXPECT_EQ(queries_.PredictLoss(ByCompute("lstm", -1)).status().message(),
            "compute: must be positive");
  v1::GetFitRequest get;
  get.set_sweep_id(1);
  get.set_form("quadratic");
  EXPECT_EQ(queries_.GetFit(get).status().message(),
            "form: unknown form 'quadratic' (power_law_compute, chinchilla, isoflop, "
            "data_constrained or power_law_shared_e)");
  v1::CompareFamiliesRequest cmp;
  cmp.set_sweep_id(1);
  cmp.set_base_family("lstm");
  cmp.set_family("transformer");
  cmp.set_min_compute(1e18);
  cmp.set_max_compute(1e17);
  EXPECT_EQ(queries_.Compare(cmp).status().message(), "max_compute: must not be below min_compute");
}

TEST_F(FitQueriesTest, AnUnknownSweepIsNotFound) {
  auto p = queries_.PredictLoss(ByCompute("lstm", 1e19));
  v1::GetFitRequest get;
  get.set_sweep_id(2);
  EXPECT_EQ(queries_.GetFit(get).status().code(), absl::StatusCode::kNotFound);
  v1::PredictLossRequest req = ByCompute("lstm", 1e19);
  req.set_sweep_id(2);
  EXPECT_EQ(queries_.PredictLoss(req).status().code(), absl::StatusCode::kNotFound);
}

TEST_F(FitQueriesTest, ASweepsFamiliesAreReadOnce) {
  for (int i = 0; i < 3; ++i) (void)queries_.PredictLoss(ByCompute("lstm", 1e19));
  EXPECT_EQ(data_.get_sweep_calls(), 1);
}

TEST_F(FitQueriesTest, CompareUsesBothFamiliesPowerLaws) {
  data_.AddFit(1, PowerLaw("lstm"));
  fit::FitResult t = PowerLaw("transformer");
  t.law = {1.5, 80, 0.1};
  data_.AddFit(1, t);
  v1::CompareFamiliesRequest cmp;
  cmp.set_sweep_id(1);
  cmp.set_base_family("lstm");
  cmp.set_family("transformer");
  cmp.set_points(3);
  auto out = queries_.Compare(cmp);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->points_size(), 3);
  EXPECT_EQ(out->base_fit_id(), 1);
  EXPECT_EQ(out->fit_id(), 2);
}

TEST_F(FitQueriesTest, HistoryAndFitsAfterReadEveryVersion) {
  data_.AddFit(1, Insufficient(FitForm::kPowerLawCompute, "lstm"));
  data_.AddFit(1, PowerLaw("lstm"));
  v1::ListFitHistoryRequest req;
  req.set_sweep_id(1);
  req.set_family("lstm");
  auto history = queries_.History(req);
  ASSERT_TRUE(history.ok()) << history.status();
  EXPECT_EQ(history->fits_size(), 2);
  auto after = queries_.FitsAfter(1, 1);
  ASSERT_TRUE(after.ok());
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].id(), 2);
}

TEST_F(FitQueriesTest, TheCacheRereadsAfterItsTtlOrAnInvalidation) {
  data_.AddFit(1, PowerLaw("lstm"));
  ASSERT_TRUE(cache_.Latest(1).ok());
  ASSERT_TRUE(cache_.Latest(1).ok());
  EXPECT_EQ(data_.latest_calls(), 1);
  clock_.Advance(1min - 1ms);
  ASSERT_TRUE(cache_.Latest(1).ok());
  EXPECT_EQ(data_.latest_calls(), 1);
  clock_.Advance(1ms);
  ASSERT_TRUE(cache_.Latest(1).ok());
  EXPECT_EQ(data_.latest_calls(), 2);
  cache_.Invalidate(1);
  auto found = cache_.Find(1, "lstm", FitForm::kPowerLawCompute);
  ASSERT_TRUE(found.ok()) << found.status();
  EXPECT_EQ(data_.latest_calls(), 3);
  EXPECT_EQ(cache_.Find(1, "lstm", FitForm::kChinchilla).status().message(),
            "sweep 1 has no chinchilla fit for family 'lstm' yet");
}

// ---------------------------------------------------------------- the data behind a prediction

// SIMULATION: a ladder at 20 tokens per parameter (D = sqrt(20 C / 6)) from
// 1e15 to 1e18 FLOPs on a corpus of `corpus` tokens.
std::vector<fit::Observation> Ladder(const std::string& family, double corpus) {
  std::vector<fit::Observation> runs;
  for (double c = 1e15; c <= 1.01e18; c *= 10) {
    fit::Observation o;
    o.family = family;
    o.tokens = std::sqrt(20 * c / 6);
    o.params = o.tokens / 20;
    o.flops = c;
    o.loss = 1.5 + 100 * std::pow(c, -0.1);
    o.corpus_tokens = corpus;
    runs.push_back(o);
  }
  return runs;
}

// E + A/N^alpha + B/D^beta with R*_D = 15, trained up to N*D = 1e16.
fit::FitResult DataConstrained(const std::string& family) {
  fit::FitResult r;
  r.form = FitForm::kDataConstrained;
  r.family = family;
  r.status = fit::FitStatus::kOk;
  r.flops_count = fit::FlopsCount::kSixND;
  r.law = {1.5, 400, 0.34, 400, 0.28, 15};
  r.max_trained_flops = 6e16;
  r.max_trained_params_tokens = 1e16;
  r.parameters = fit::ReportedParameters(r.form, r.law, {});
  return r;
}

TEST_F(FitQueriesTest, AComputeTargetReportsTheEpochsOfTheSweepsRecipe) {
  data_.AddFit(1, PowerLaw("lstm"));
  data_.SetRuns(1, Ladder("lstm", 1e10));
  auto p = queries_.PredictLoss(ByCompute("lstm", 1e19));
  ASSERT_TRUE(p.ok()) << p.status();
  const double tokens = std::sqrt(20 * 1e19 / 6);  // 5.8e9
  EXPECT_NEAR(p->target_tokens() / tokens, 1.0, 1e-6);
  EXPECT_EQ(p->unique_tokens(), 1e10);
  EXPECT_NEAR(p->epochs(), tokens / 1e10, 1e-6);
  EXPECT_EQ(p->warnings_size(), 0);  // within one epoch, E off its bound

  // 100x the ladder on a small corpus: 18 epochs, and nothing better to ask.
  data_.SetRuns(1, Ladder("lstm", 1e9));
  data_.AddFit(1, PowerLaw("lstm"));  // new results bring a new fit
  cache_.Invalidate(1);
  p = queries_.PredictLoss(ByCompute("lstm", 1e20));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->form(), "power_law_compute");
  EXPECT_NEAR(p->epochs(), std::sqrt(20 * 1e20 / 6) / 1e9, 1e-6);
  ASSERT_EQ(p->warnings_size(), 1);
  EXPECT_EQ(p->warnings(0),
            "the target needs 18.3 epochs of the sweep's 1B-token corpus; the law assumes fresh "
            "data: expect a higher loss");
}

TEST_F(FitQueriesTest, BeyondOneEpochTheDataConstrainedFitAnswers) {
  data_.AddFit(1, PowerLaw("lstm"));
  data_.AddFit(1, DataConstrained("lstm"));
  data_.SetRuns(1, Ladder("lstm", 1e9));
  auto p = queries_.PredictLoss(ByCompute("lstm", 1e20));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->form(), "data_constrained");
  EXPECT_EQ(p->fit_id(), 2);
  const double d = std::sqrt(20 * 1e20 / 6), n = 1e20 / (6 * d);
  const fit::DataConstrainedLaw law = fit::DataConstrainedFromVector(DataConstrained("lstm").law);
  EXPECT_NEAR(p->loss().estimate(), law.Loss(n, d, 1e9), 1e-9);
  EXPECT_GT(p->loss().estimate(), law.base.Loss(n, d));  // repeats cost loss
  ASSERT_EQ(p->warnings_size(), 1);
  EXPECT_EQ(p->warnings(0),
            "the target needs 18.3 epochs of the sweep's 1B-token corpus; answered by the "
            "data_constrained fit, which discounts repeated tokens");

  // A form named is the form used, with the warning.
  v1::PredictLossRequest req = ByCompute("lstm", 1e20);
  req.set_form("power_law_compute");
  p = queries_.PredictLoss(req);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->form(), "power_law_compute");
  ASSERT_EQ(p->warnings_size(), 1);
  EXPECT_NE(p->warnings(0).find("the law assumes fresh data"), std::string::npos);

  // (N, D) past the corpus: data_constrained at U = the corpus.
  v1::PredictLossRequest by_size;
  by_size.set_sweep_id(1);
  by_size.set_family("lstm");
  by_size.set_params(1e8);
  by_size.set_tokens(4e9);
  p = queries_.PredictLoss(by_size);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->form(), "data_constrained");
  EXPECT_EQ(p->target_tokens(), 4e9);
  EXPECT_EQ(p->epochs(), 4);
  EXPECT_NEAR(p->loss().estimate(), law.Loss(1e8, 4e9, 1e9), 1e-9);
}

TEST_F(FitQueriesTest, TheFormIsTheRequestsOrTheDefaultOrder) {
  data_.AddFit(1, PowerLaw("lstm"));
  fit::FitResult shared = PowerLaw("lstm");
  shared.form = FitForm::kPowerLawSharedE;
  shared.law = {1.4, 100, 0.1};
  data_.AddFit(1, shared);
  auto p = queries_.PredictLoss(ByCompute("lstm", 1e19));
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->form(), "power_law_shared_e");  // first when usable
  EXPECT_EQ(p->fit_id(), 2);
  EXPECT_EQ(p->unique_tokens(), 0);  // no runs say: unknown
  EXPECT_EQ(p->epochs(), 0);

  v1::PredictLossRequest req = ByCompute("lstm", 1e19);
  req.set_form("power_law_compute");
  p = queries_.PredictLoss(req);
  ASSERT_TRUE(p.ok()) << p.status();
  EXPECT_EQ(p->form(), "power_law_compute");

  req.set_form("chinchilla");
  EXPECT_EQ(queries_.PredictLoss(req).status().message(),
            "no usable fit for family 'lstm' in sweep 1: chinchilla: no fit yet");
  EXPECT_EQ(queries_.PredictLoss(req).status().code(), absl::StatusCode::kFailedPrecondition);
  req.set_form("cubic");
  const absl::Status unknown = queries_.PredictLoss(req).status();
  EXPECT_EQ(unknown.code(), absl::StatusCode::kInvalidArgument);
  EXPECT_EQ(unknown.message().rfind("form: unknown form 'cubic'", 0), 0u) << unknown.message();
}

TEST_F(FitQueriesTest, BoundsAreFlaggedOnFitsAndWarnedOnPredictions) {
  fit::FitResult r = PowerLaw("lstm");
  r.law = {0, 100, 0.1};
  r.parameters = fit::ReportedParameters(r.form, r.law, {});
  data_.AddFit(1, r);
  v1::GetFitRequest get;
  get.set_sweep_id(1);
  get.set_family("lstm");
  auto fits = queries_.GetFit(get);
  ASSERT_TRUE(fits.ok()) << fits.status();
  ASSERT_EQ(fits->fits_size(), 1);
  const v1::Fit& f = fits->fits(0);
  ASSERT_EQ(f.parameters(0).name(), "E");
  EXPECT_EQ(f.parameters(0).at_bound(), "lower");
  EXPECT_EQ(f.parameters(0).bound(), 0);
  EXPECT_EQ(f.parameters(1).at_bound(), "");
  ASSERT_EQ(f.warnings_size(), 1);
  const std::string line =
      "E = 0 is on its lower bound: the data do not place the irreducible loss; extrapolations "
      "from this fit never flatten";
  EXPECT_EQ(f.warnings(0), line);

  auto p = queries_.PredictLoss(ByCompute("lstm", 1e19));
  ASSERT_TRUE(p.ok()) << p.status();
  ASSERT_EQ(p->warnings_size(), 1);
  EXPECT_EQ(p->warnings(0), line);

  data_.AddFit(1, PowerLaw("transformer"));
  cache_.Invalidate(1);
  v1::CompareFamiliesRequest cmp;
  cmp.set_sweep_id(1);
  cmp.set_base_family("transformer");
  cmp.set_family("lstm");
  cmp.set_points(3);
  auto out = queries_.Compare(cmp);
  ASSERT_TRUE(out.ok()) << out.status();
  EXPECT_EQ(out->form(), "power_law_compute");
  ASSERT_EQ(out->warnings_size(), 1);
  EXPECT_EQ(out->warnings(0), "lstm: " + line);
  cmp.set_form("power_law_shared_e");
  EXPECT_EQ(queries_.Compare(cmp).status().code(), absl::StatusCode::kFailedPrecondition);
  cmp.set_form("nope");
  EXPECT_EQ(queries_.Compare(cmp).status().message().rfind("form: unknown form 'nope'", 0), 0u);
}

TEST_F(FitQueriesTest, OptimalAllocationReportsItsEpochs) {
  fit::FitResult c;
  c.form = FitForm::kChinchilla;
  c.family = "lstm";
  c.status = fit::FitStatus::kOk;
  c.flops_count = fit::FlopsCount::kSixND;
  c.law = {1.69, 406.4, 0.34, 410.7, 0.28};
  c.max_trained_flops = 1e18;
  c.parameters = fit::ReportedParameters(c.form, c.law, {});
  data_.AddFit(1, c);
  data_.SetRuns(1, Ladder("lstm", 1e9));
  v1::OptimalAllocationRequest req;
  req.set_sweep_id(1);
  req.set_family("lstm");
  req.set_compute(1e21);
  auto a = queries_.Optimal(req);
  ASSERT_TRUE(a.ok()) << a.status();
  EXPECT_EQ(a->unique_tokens(), 1e9);
  EXPECT_NEAR(a->epochs(), a->tokens().estimate() / 1e9, 1e-9);
  ASSERT_GT(a->epochs(), 1);
  ASSERT_EQ(a->warnings_size(), 1);
  EXPECT_EQ(a->warnings(0).rfind("the target needs ", 0), 0u) << a->warnings(0);
}

TEST_F(FitQueriesTest, TheRunsAreReadOncePerFit) {
  data_.AddFit(1, PowerLaw("lstm"));
  data_.SetRuns(1, Ladder("lstm", 1e10));
  for (int i = 0; i < 3; ++i) ASSERT_TRUE(queries_.PredictLoss(ByCompute("lstm", 1e19)).ok());
  EXPECT_EQ(data_.sweep_runs_calls(), 1);
  data_.AddFit(1, PowerLaw("lstm"));
  cache_.Invalidate(1);
  ASSERT_TRUE(queries_.PredictLoss(ByCompute("lstm", 1e19)).ok());
  EXPECT_EQ(data_.sweep_runs_calls(), 2);
}

}  // namespace
}  // namespace ladder
