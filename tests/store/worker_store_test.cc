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

TEST_F(StoreTest, LargestDeviceMemoryCountsLiveWorkersOfTheKind) {
  store::WorkerStore workers(pool_.get());
  EXPECT_EQ(*workers.LargestDeviceMemory("any"), 0) << "no worker registered";
  Register("small", int64_t{1} << 30);
  const int64_t big = Register("big", int64_t{1} << 35);
  EXPECT_EQ(*workers.LargestDeviceMemory("any"), int64_t{1} << 35);
  EXPECT_EQ(*workers.LargestDeviceMemory("cpu"), int64_t{1} << 35);
  EXPECT_EQ(*workers.LargestDeviceMemory("cuda"), 0) << "every device registered is a cpu";
  db_.Query("UPDATE workers SET state = 'gone' WHERE id = " + std::to_string(big) +
            " RETURNING id");
  EXPECT_EQ(*workers.LargestDeviceMemory("any"), int64_t{1} << 30) << "a gone worker runs nothing";
}

}  // namespace
}  // namespace ladder
