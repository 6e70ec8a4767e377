// WorkerStore against a real PostgreSQL: draining and listing workers.
#include "server/store/worker_store.h"

#include <gtest/gtest.h>

#include "tests/store/store_fixture.h"

namespace ladder {
namespace {

using namespace std::chrono_literals;
using testing::StoreTest;

TEST_F(StoreTest, DrainedWorkerGetsNoLeaseAndIsToldSo) {
  CreateSweep(2);
  const int64_t w = Register("w");
  store::WorkerStore workers(pool_.get());
  auto drained = workers.DrainWorker(w);
  ASSERT_TRUE(drained.ok());
  EXPECT_EQ(drained->state(), "draining");
  auto r = leases_->LeaseRun(w, 0);
  ASSERT_TRUE(r.ok());
  EXPECT_FALSE(r->granted());
  EXPECT_TRUE(r->drain());
  EXPECT_EQ(workers.DrainWorker(777).status().code(), absl::StatusCode::kNotFound);
}

}  // namespace
}  // namespace ladder
