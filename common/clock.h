// Time as the coordinator's loops see it, behind one seam (leveldb's Env is
// the model): steady time for intervals and deadlines, wall time for what is
// stored, and a wait that a fake clock can cut short.
//
// RealClock (Clock::Real(), process-wide) reads the system clocks and waits
// on the condition variable. FakeClock, for tests, stands still until
// Advance() moves it; Advance wakes every thread waiting in WaitUntil, so a
// test of a debounce or a back-off runs in microseconds with no sleeps.
//
// Thread-safe.
#pragma once

#include <chrono>
#include <condition_variable>
#include <functional>
#include <mutex>
#include <set>

namespace ladder {

class Clock {
 public:
  using SteadyTime = std::chrono::steady_clock::time_point;
  using WallTime = std::chrono::system_clock::time_point;

  virtual ~Clock() = default;

  // Steady time: for intervals and deadlines (never jumps).
  virtual SteadyTime Now() const = 0;
  // Wall time: for what is stored or shown.
  virtual WallTime WallNow() const = 0;

  // With `lock` (on `cv`'s mutex) held: waits on `cv` until `done()` is true
  // or this clock reaches `deadline`, whichever is first, and returns done().
  // `done` is evaluated with the lock held. Whoever changes what `done`
  // reads notifies `cv`, as with std::condition_variable.
  virtual bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                         SteadyTime deadline, const std::function<bool()>& done) = 0;
  bool WaitFor(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
               std::chrono::nanoseconds timeout, const std::function<bool()>& done) {
    return WaitUntil(lock, cv, Now() + timeout, done);
  }

  // The process-wide real clock (never null, never destroyed).
  static Clock* Real();
};

class RealClock final : public Clock {
 public:
  SteadyTime Now() const override { return std::chrono::steady_clock::now(); }
  WallTime WallNow() const override { return std::chrono::system_clock::now(); }
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 SteadyTime deadline, const std::function<bool()>& done) override;
};

class FakeClock final : public Clock {
 public:
  // Both clocks start at the real time of construction (rows a database
  // stamped with now() before then are in this clock's past; a test that
  // compares with rows stamped later starts it ahead, FakeClock(wall_start))
  // and then move only by Advance.
  FakeClock();
  explicit FakeClock(WallTime wall_start);

  SteadyTime Now() const override;
  WallTime WallNow() const override;
  // Waits until done(), or until Advance has moved this clock to `deadline`.
  // (A waiter also re-checks every millisecond of real time, which closes
  // the window between its check of the time and its wait on `cv`.)
  bool WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                 SteadyTime deadline, const std::function<bool()>& done) override;

  // Moves both clocks forward by `d` (not negative) and wakes every waiter.
  void Advance(std::chrono::nanoseconds d);

  // For tests that must know a loop has reached its wait: blocks (in real
  // time, up to `timeout`) until some thread waits in WaitUntil for exactly
  // `deadline`; false on timeout.
  bool AwaitWaiter(SteadyTime deadline,
                   std::chrono::milliseconds timeout = std::chrono::seconds(30)) const;
  // Threads waiting in WaitUntil now.
  int waiters() const;

 private:
  struct Waiter {
    std::condition_variable* cv;
    SteadyTime deadline;
  };
  mutable std::mutex mu_;
  mutable std::condition_variable changed_;  // a waiter came or went
  std::chrono::nanoseconds elapsed_{0};      // guarded by mu_
  const SteadyTime steady_start_;
  const WallTime wall_start_;
  std::set<Waiter*> waiters_;  // guarded by mu_
};

}  // namespace ladder
