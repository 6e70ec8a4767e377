// RefitLoop over the real stores (PostgreSQL, through PgFitData), on a
// FakeClock: what a refit reads and stores. The timing rules (debounce,
// pacing) are unit-tested with fakes in server/refit_loop_test.cc.
#include "server/refit_loop.h"

#include <gtest/gtest.h>

#include "server/fit_data.h"
#include "server/store/fit_store.h"
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

}  // namespace
}  // namespace ladder
