// RefitLoop over the real stores (PostgreSQL): pacing of a sweep's refits.
#include "server/fit_data.h"
#include "server/refit_loop.h"

#include <gtest/gtest.h>

#include <thread>

#include "server/store/fit_store.h"
#include "tests/store/store_fixture.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

TEST_F(StoreTest, RefitLoopPacesASweepsRefitsByWhatTheLastOneCost) {
  const int64_t id = CreateSweep(3);
  store::FitStore fits(pool_.get());
  PgFitData data(sweeps_.get(), &fits);
  const auto refits_after_two_schedules = [&](double pacing) {
    RefitLoop::Options o;
    o.debounce = 0ms;
    o.pacing = pacing;
    o.bootstrap_resamples = 10;
    RefitLoop loop(&data, nullptr, nullptr, o);
    loop.Start();
    loop.Schedule(id);
    for (int i = 0; i < 500 && loop.completed() < 1; ++i) std::this_thread::sleep_for(10ms);
    EXPECT_EQ(loop.completed(), 1);
    loop.Schedule(id);
    std::this_thread::sleep_for(500ms);
    const int done = loop.completed();
    loop.Stop();
    return done;
  };
  // A refit takes at least a millisecond (a database round trip): 1e6 times
  // that is over 15 minutes, so the second refit must wait.
  EXPECT_EQ(refits_after_two_schedules(1e6), 1);
  EXPECT_EQ(refits_after_two_schedules(0), 2);
}

}  // namespace
}  // namespace ladder
