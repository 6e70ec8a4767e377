// FitStore against a real PostgreSQL: versioned fit rows written and read
// back as the JSON object of their columns, the observations a refit reads,
// and (server/stored_fit.h) their conversion to the fit engine's types.
#include "server/store/fit_store.h"

#include <gtest/gtest.h>

#include <cmath>
#include <map>
#include <nlohmann/json.hpp>
#include <string>

#include "common/protocol/trainer_events.h"
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

// The corpus behind a run (runs.corpus_tokens, migration 0005): the
// trainer's corpus_tokens when it says; else, from a run that went past an
// epoch, its unique_tokens (it saw the whole corpus); else unknown (0).
TEST_F(StoreTest, ObservationsCarryTheCorpusTheirRunsDrewOn) {
  const int64_t sweep = CreateSweep(3);
  const int64_t w = Register("w");
  std::map<int64_t, double> want;
  for (auto [corpus, unique_fraction] :
       {std::pair<int64_t, double>{3'900'000, 1.0}, {-1, 0.25}, {-1, 1.0}}) {
    const v1::Lease l = MustLease(w);
    protocol::ResultEvent r;
    ASSERT_FALSE(protocol::ReadEvent(nlohmann::json::parse(PlausibleResult(l.run_id(), 2.5)), &r));
    r.unique_tokens = static_cast<int64_t>(r.tokens * unique_fraction);
    if (corpus > 0) r.corpus_tokens = corpus;
    v1::CompleteAttemptRequest req;
    req.set_attempt_id(l.attempt_id());
    req.set_lease_token(l.lease_token());
    req.set_result_json(protocol::WriteEventLine(r));
    auto end = leases_->CompleteAttempt(req);
    ASSERT_TRUE(end.ok()) << end.status();
    want[l.run_id()] = corpus > 0 ? corpus : unique_fraction < 1 ? r.unique_tokens : 0;
    EXPECT_EQ(db_.Query("SELECT COALESCE(corpus_tokens::text, 'null') FROM runs WHERE id = " +
                        std::to_string(l.run_id())),
              corpus > 0 ? std::to_string(corpus) : "null");
  }
  store::FitStore fits(pool_.get());
  auto rows = fits.LoadObservations(sweep, /*with_curves=*/false);
  ASSERT_TRUE(rows.ok()) << rows.status();
  ASSERT_EQ(rows->size(), 3u);
  for (const auto& row : *rows) {
    EXPECT_EQ(ObservationFromRow(row).corpus_tokens, want[row.run_id]) << "run " << row.run_id;
  }
}

}  // namespace
}  // namespace ladder
