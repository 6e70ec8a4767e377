// The retry back-off formula (the lease store's FailAttempt applies it; the
// PostgreSQL test in tests/store/lease_store_test.cc checks it end to end).
#include <gtest/gtest.h>

#include "server/store/lease_store.h"

namespace ladder::store {
namespace {

using namespace std::chrono_literals;

TEST(RetryBackoffTest, DoublesPerFailureUpToTheCap) {
  EXPECT_EQ(RetryBackoff(1, 1s, 60s), 1s);
  EXPECT_EQ(RetryBackoff(2, 1s, 60s), 2s);
  EXPECT_EQ(RetryBackoff(3, 1s, 60s), 4s);
  EXPECT_EQ(RetryBackoff(6, 1s, 60s), 32s);
  EXPECT_EQ(RetryBackoff(7, 1s, 60s), 60s);
  EXPECT_EQ(RetryBackoff(1000, 1s, 60s), 60s) << "no overflow for many failures";
}

TEST(RetryBackoffTest, EdgeCases) {
  EXPECT_EQ(RetryBackoff(0, 1s, 60s), 1s) << "treated as the first failure";
  EXPECT_EQ(RetryBackoff(3, 0ms, 60s), 0ms) << "no back-off configured";
  EXPECT_EQ(RetryBackoff(1, 10s, 3s), 3s) << "the cap wins over the base";
  EXPECT_EQ(RetryBackoff(3, 1500ms, 60s), 6000ms);
}

}  // namespace
}  // namespace ladder::store
