// The fixture shared by the PostgreSQL store tests (tests/store/*_test.cc):
// a fresh database with the migrations applied, a sweep store, a lease
// store, and helpers to create sweeps, register workers and lease, complete
// or fail runs.
#pragma once

#include <gtest/gtest.h>

#include <chrono>
#include <cstdint>
#include <memory>
#include <string>

#include "server/store/lease_store.h"
#include "server/store/pg_pool.h"
#include "server/store/sweep_store.h"
#include "tests/testing/test_database.h"

namespace ladder::testing {

// For a FakeClock given to a LeaseStore: an hour ahead of the database's
// clock, so what the database stamps with now() (a new run's not_before) is
// in its past. Lease deadlines, expiry and back-off then follow Advance alone.
inline std::chrono::system_clock::time_point AheadOfTheDatabase() {
  return std::chrono::system_clock::now() + std::chrono::hours(1);
}

class StoreTest : public ::testing::Test {
 protected:
  void SetUp() override;

  std::unique_ptr<store::PgPool> MakePool(int size = 4);

  // Creates a sweep of `n` grid runs (one family, n token budgets).
  int64_t CreateSweep(int n, int max_attempts = 3, int priority = 0, double params = 1e5);

  int64_t Register(const std::string& name, int64_t memory = int64_t{1} << 34,
                   store::LeaseStore* leases = nullptr);

  // The lowest device of `worker` holding no live lease.
  int FreeDevice(int64_t worker);

  v1::Lease MustLease(int64_t worker);

  absl::StatusOr<store::AttemptEnd> Complete(const v1::Lease& l, double loss);

  // A result that matches the run's plan (tokens and FLOPs as planned).
  std::string PlausibleResult(int64_t run_id, double loss);

  absl::StatusOr<store::AttemptEnd> Fail(const v1::Lease& l, const std::string& reason);

  static constexpr int kDevices = 8;
  TestDatabase db_;
  std::unique_ptr<store::PgPool> pool_;
  std::unique_ptr<store::SweepStore> sweeps_;
  std::unique_ptr<store::LeaseStore> leases_;
};

}  // namespace ladder::testing
