// FitQueries and FitCache over an in-memory fit source (no database): which
// fit answers, the errors that name the field at fault, and the cache's
// ttl on a FakeClock.
#include "server/fit_queries.h"

#include <gtest/gtest.h>

#include "server/fake_fit_data.h"

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
            "no usable fit for family 'lstm' in sweep 1: power_law_compute: no fit yet; "
            "chinchilla: insufficient_data (2 runs, need 4)");
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
            "form: unknown form 'quadratic' (power_law_compute, chinchilla, isoflop or "
            "data_constrained)");
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

}  // namespace
}  // namespace ladder
