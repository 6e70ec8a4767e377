// RefitLoop over the real stores (PostgreSQL, through PgFitData), on a
// FakeClock: what a refit reads and stores (the shared-E fit included). The timing rules (debounce,
// pacing) are unit-tested with fakes in server/refit_loop_test.cc.
#include "server/refit_loop.h"

#include <gtest/gtest.h>

#include <cmath>

#include "common/protocol/trainer_events.h"
#include "server/fit_data.h"
#include "server/store/fit_store.h"
#include "server/sweep_manager.h"
#include "server/sweep_planner.h"
#include "server/sweep_spec.h"
#include "tests/store/store_fixture.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

TEST_F(StoreTest, RefitLoopStoresAFitPerFormAndFamilyOnceTheDebouncePassed) {
  const int64_t id = CreateSweep(3);
  ASSERT_TRUE(Complete(MustLease(Register("w")), 3.0).ok());
  store::FitStore fits(pool_.get());
  PgFitData data(sweeps_.get(), &fits);
  EXPECT_EQ(*data.SweepsNeedingRefit(), std::vector<int64_t>{id}) << "a result and no fit yet";

  FakeClock clock;
  RefitLoop::Options o;
  o.debounce = 2s;
  o.bootstrap_resamples = 10;
  RefitLoop loop(&data, nullptr, nullptr, o, &clock);
  const auto t0 = clock.Now();
  loop.Start();  // catches up on the sweep needing a refit, debounced
  ASSERT_TRUE(clock.AwaitWaiter(t0 + 2s));
  EXPECT_EQ(db_.Query("SELECT count(*) FROM fits"), "0");
  clock.Advance(2s);
  ASSERT_TRUE(loop.AwaitCompleted(1));
  loop.Stop();
  // A grid sweep: power_law_compute and chinchilla for its one family.
  EXPECT_EQ(db_.Query("SELECT string_agg(form || ':' || family || ':' || version, ',' ORDER BY "
                      "form) FROM fits"),
            "chinchilla:lstm:1,power_law_compute:lstm:1");
  EXPECT_TRUE(data.SweepsNeedingRefit()->empty());
}

// Two families on one floor: the refit also stores power_law_shared_e for
// each (the default with two families), and it reads back with one E and
// Fit.shared_with. Losses are SIMULATED from L_f = 0.9 + A_f C^-alpha_f.
TEST_F(StoreTest, ASweepOfTwoFamiliesStoresASharedEFitPerFamily) {
  auto spec = ParseSweepSpec(
      "name: s\nkind: grid\nfamilies: [lstm, transformer]\ngrid: {params: [1e5], tokens: "
      "[4096, 8192, 16384, 32768, 65536, 131072, 262144, 524288]}\n");
  ASSERT_TRUE(spec.ok()) << spec.status();
  ASSERT_TRUE(spec->fit.shared_e);
  auto planned = PlanSweep(*spec);
  ASSERT_TRUE(planned.ok()) << planned.status();
  auto sweep = sweeps_->CreateSweep(SweepRow("yaml", *spec), RunRows(*planned));
  ASSERT_TRUE(sweep.ok()) << sweep.status();
  const int64_t worker = Register("w");
  for (size_t i = 0; i < planned->size(); ++i) {
    const v1::Lease lease = MustLease(worker);
    const std::string run = std::to_string(lease.run_id());
    const double c = std::stod(db_.Query("SELECT planned_flops FROM runs WHERE id = " + run));
    const bool lstm = db_.Query("SELECT family FROM runs WHERE id = " + run) == "lstm";
    protocol::ResultEvent r;  // every required field; the others zero
    r.final_eval_loss = 0.9 + (lstm ? 60 * std::pow(c, -0.15) : 400 * std::pow(c, -0.22));
    r.tokens = std::stoll(db_.Query("SELECT planned_tokens FROM runs WHERE id = " + run));
    r.flops = c;
    r.params_total = r.params_non_embedding = 100000;
    r.flops_6n = 6.0 * r.params_non_embedding * r.tokens;
    r.simulated = true;
    v1::CompleteAttemptRequest req;
    req.set_attempt_id(lease.attempt_id());
    req.set_lease_token(lease.lease_token());
    req.set_result_json(protocol::WriteEventLine(r));
    ASSERT_TRUE(leases_->CompleteAttempt(req).ok());
  }
  store::FitStore fits(pool_.get());
  PgFitData data(sweeps_.get(), &fits);
  RefitLoop::Options o;
  o.bootstrap_resamples = 10;
  RefitLoop loop(&data, nullptr, nullptr, o);
  ASSERT_TRUE(loop.RefitNow(sweep->id()).ok());

  auto shared = data.LatestFits(sweep->id(), "", "power_law_shared_e");
  ASSERT_TRUE(shared.ok()) << shared.status();
  ASSERT_EQ(shared->size(), 2u);
  for (const StoredFit& f : *shared) {
    ASSERT_TRUE(f.result->ok()) << f.result->family << ": " << f.result->reason;
    EXPECT_EQ(f.result->law[0], (*shared)[0].result->law[0]) << "one E";
    EXPECT_NEAR(f.result->law[0], 0.9, 0.01);
    EXPECT_EQ(f.result->law_samples.size(), 10u);
    const v1::Fit proto = FitToProto(f);
    ASSERT_EQ(proto.shared_with_size(), 2);
    EXPECT_EQ(proto.shared_with(0), "lstm");
    EXPECT_EQ(proto.shared_with(1), "transformer");
  }
}

}  // namespace
}  // namespace ladder
