// FitStore against a real PostgreSQL: versioned fit rows written and read
// back as the JSON object of their columns, the observations a refit reads,
// and (server/stored_fit.h) their conversion to the fit engine's types.
#include "server/store/fit_store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <string>

#include "server/fit/fit_json.h"
#include "server/stored_fit.h"
#include "tests/store/store_fixture.h"

namespace ladder {
namespace {

using testing::StoreTest;

fit::FitResult AFit(const std::string& reason) {
  fit::FitResult r;
  r.form = fit::FitForm::kChinchilla;
  r.family = "lstm";
  r.status = fit::FitStatus::kInsufficientData;
  r.reason = reason;
  r.parameters.push_back({"E", {1.5, 1.2, 1.8}});
  r.runs_used = 2;
  r.fit_seconds = 0.25;
  return r;
}

TEST_F(StoreTest, FitsAreVersionedAndReadBackAsStored) {
  const int64_t sweep = CreateSweep(2);
  store::FitStore fits(pool_.get());
  auto first = fits.StoreFit(sweep, fit::FitResultToJson(AFit("first")));
  ASSERT_TRUE(first.ok()) << first.status();
  auto second = fits.StoreFit(sweep, fit::FitResultToJson(AFit("second")));
  ASSERT_TRUE(second.ok()) << second.status();
  EXPECT_EQ(first->version, 1);
  EXPECT_EQ(second->version, 2);
  EXPECT_EQ(second->sweep_id, sweep);
  EXPECT_GT(second->created_unix_ms, 0);

  auto latest = fits.LatestFits(sweep, "", "");
  ASSERT_TRUE(latest.ok()) << latest.status();
  ASSERT_EQ(latest->size(), 1u);
  EXPECT_EQ((*latest)[0].id, second->id);
  EXPECT_EQ(fits.LatestFits(sweep, "lstm", "isoflop")->size(), 0u);
  EXPECT_EQ(fits.FitHistory(sweep, "lstm", "chinchilla")->size(), 2u);
  auto after = fits.FitsAfter(sweep, first->id);
  ASSERT_EQ(after->size(), 1u);
  EXPECT_EQ((*after)[0].version, 2);

  // The row rebuilds the engine's object, and the wire form names it.
  auto stored = StoredFitFromRow((*latest)[0]);
  ASSERT_TRUE(stored.ok()) << stored.status();
  EXPECT_EQ(stored->result->form, fit::FitForm::kChinchilla);
  EXPECT_EQ(stored->result->reason, "second");
  ASSERT_EQ(stored->result->parameters.size(), 1u);
  EXPECT_DOUBLE_EQ(stored->result->parameters[0].value.upper, 1.8);
  const v1::Fit wire = FitToProto(*stored);
  EXPECT_EQ(wire.form(), "chinchilla");
  EXPECT_EQ(wire.status(), "insufficient_data");
  EXPECT_EQ(wire.version(), 2);
}

TEST_F(StoreTest, AFitRowThatCannotBeReadBackIsAnInternalErrorNamingIt) {
  const int64_t sweep = CreateSweep(1);
  store::FitStore fits(pool_.get());
  auto row = fits.StoreFit(sweep, fit::FitResultToJson(AFit("x")));
  ASSERT_TRUE(row.ok());
  db_.Query("UPDATE fits SET form = 'no_such_form' RETURNING id");
  auto rows = fits.LatestFits(sweep, "", "");
  ASSERT_TRUE(rows.ok()) << "the store reads rows; the fit engine judges them";
  auto stored = StoredFitsFromRows(*rows);
  EXPECT_EQ(stored.status().code(), absl::StatusCode::kInternal);
  EXPECT_NE(std::string(stored.status().message()).find("fit " + std::to_string(row->id)),
            std::string::npos)
      << stored.status();
}

TEST_F(StoreTest, ObservationsAreTheSucceededRuns) {
  const int64_t sweep = CreateSweep(2);
  const int64_t w = Register("w");
  const v1::Lease done = MustLease(w);
  ASSERT_TRUE(Complete(done, 3.25).ok());
  MustLease(w);  // leased, not succeeded: not an observation
  store::FitStore fits(pool_.get());
  auto rows = fits.LoadObservations(sweep, /*with_curves=*/true);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 1u);
  const fit::Observation o = ObservationFromRow((*rows)[0]);
  EXPECT_EQ(o.run_id, done.run_id());
  EXPECT_EQ(o.family, "lstm");
  EXPECT_DOUBLE_EQ(o.loss, 3.25);
  EXPECT_EQ(
      std::to_string(static_cast<int64_t>(o.tokens)),
      db_.Query("SELECT planned_tokens FROM runs WHERE id = " + std::to_string(done.run_id())));
  EXPECT_GT(o.flops, 0);
}

}  // namespace
}  // namespace ladder
