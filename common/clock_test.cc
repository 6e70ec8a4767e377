#include "common/clock.h"

#include <gtest/gtest.h>

#include <atomic>
#include <thread>

namespace ladder {
namespace {

using namespace std::chrono_literals;

TEST(FakeClockTest, StandsStillUntilAdvanced) {
  const auto wall = std::chrono::system_clock::time_point(1'700'000'000s);
  FakeClock clock(wall);
  const auto t0 = clock.Now();
  EXPECT_EQ(clock.WallNow(), wall);
  EXPECT_EQ(clock.Now(), t0);
  clock.Advance(1500ms);
  EXPECT_EQ(clock.Now() - t0, 1500ms);
  EXPECT_EQ(clock.WallNow() - wall, 1500ms);
  clock.Advance(-1s);  // ignored: time does not go back
  EXPECT_EQ(clock.Now() - t0, 1500ms);
}

TEST(FakeClockTest, DefaultWallTimeIsTheRealTimeOfConstruction) {
  const auto before = std::chrono::system_clock::now();
  FakeClock clock;
  const auto wall = clock.WallNow();
  EXPECT_GE(wall, before);
  EXPECT_LE(wall, std::chrono::system_clock::now());
}

TEST(FakeClockTest, WaiterWakesExactlyWhenAdvancedToItsDeadline) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  const auto deadline = clock.Now() + 10s;
  std::atomic<bool> returned{false};
  bool result = true;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    result = clock.WaitUntil(lock, cv, deadline, [] { return false; });
    returned = true;
  });
  ASSERT_TRUE(clock.AwaitWaiter(deadline));
  EXPECT_EQ(clock.waiters(), 1);
  clock.Advance(10s - 1ns);
  // Not yet: done() is false and the deadline is 1 ns away, whatever the
  // scheduling of the waiter.
  EXPECT_FALSE(returned);
  clock.Advance(1ns);
  waiter.join();
  EXPECT_TRUE(returned);
  EXPECT_FALSE(result) << "timed out, not done";
  EXPECT_EQ(clock.waiters(), 0);
}

TEST(FakeClockTest, WaiterWakesWhenDoneWithoutTimeMoving) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  bool flag = false;
  const auto deadline = clock.Now() + 1h;
  bool result = false;
  std::thread waiter([&] {
    std::unique_lock<std::mutex> lock(mu);
    result = clock.WaitUntil(lock, cv, deadline, [&] { return flag; });
  });
  ASSERT_TRUE(clock.AwaitWaiter(deadline));
  {
    std::lock_guard<std::mutex> lock(mu);
    flag = true;
  }
  cv.notify_all();
  waiter.join();
  EXPECT_TRUE(result);
}

TEST(FakeClockTest, DoneAtTheStartReturnsAtOnceAndAPassedDeadlineTimesOut) {
  FakeClock clock;
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_TRUE(clock.WaitUntil(lock, cv, clock.Now() + 1h, [] { return true; }));
  EXPECT_FALSE(clock.WaitUntil(lock, cv, clock.Now(), [] { return false; }));
  EXPECT_FALSE(clock.WaitFor(lock, cv, 0s, [] { return false; }));
}

TEST(FakeClockTest, AwaitWaiterTimesOutWhenNobodyWaits) {
  FakeClock clock;
  EXPECT_FALSE(clock.AwaitWaiter(clock.Now(), 1ms));
}

TEST(RealClockTest, IsOneProcessWideClockThatFollowsTheSystemClocks) {
  Clock* clock = Clock::Real();
  EXPECT_EQ(clock, Clock::Real());
  const auto before = std::chrono::steady_clock::now();
  EXPECT_GE(clock->Now(), before);
  const auto wall = clock->WallNow();
  EXPECT_LE(wall, std::chrono::system_clock::now());
  std::mutex mu;
  std::condition_variable cv;
  std::unique_lock<std::mutex> lock(mu);
  EXPECT_FALSE(clock->WaitFor(lock, cv, 1ms, [] { return false; }));
  EXPECT_GE(clock->Now() - before, 1ms);
  EXPECT_TRUE(clock->WaitUntil(lock, cv, Clock::SteadyTime::max(), [] { return true; }));
}

}  // namespace
}  // namespace ladder
