#include "common/clock.h"

namespace ladder {

Clock* Clock::Real() {
  static RealClock* const clock = new RealClock();
  return clock;
}

bool RealClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          SteadyTime deadline, const std::function<bool()>& done) {
  if (deadline == SteadyTime::max()) {
    cv.wait(lock, done);
    return true;
  }
  return cv.wait_until(lock, deadline, done);
}

FakeClock::FakeClock() : FakeClock(std::chrono::system_clock::now()) {}

FakeClock::FakeClock(WallTime wall_start)
    : steady_start_(std::chrono::steady_clock::now()), wall_start_(wall_start) {}

Clock::SteadyTime FakeClock::Now() const {
  std::lock_guard<std::mutex> lock(mu_);
  return steady_start_ + elapsed_;
}

Clock::WallTime FakeClock::WallNow() const {
  std::lock_guard<std::mutex> lock(mu_);
  return wall_start_ + std::chrono::duration_cast<WallTime::duration>(elapsed_);
}

bool FakeClock::WaitUntil(std::unique_lock<std::mutex>& lock, std::condition_variable& cv,
                          SteadyTime deadline, const std::function<bool()>& done) {
  // Lock order: the caller's mutex, then mu_ (never the other way round:
  // Advance notifies without taking the caller's mutex, and the bounded
  // real-time wait below makes up for a notification that came between a
  // waiter's check and its wait).
  Waiter self{&cv, deadline};
  {
    std::lock_guard<std::mutex> l(mu_);
    waiters_.insert(&self);
  }
  changed_.notify_all();
  while (!done() && Now() < deadline) cv.wait_for(lock, std::chrono::milliseconds(1));
  {
    std::lock_guard<std::mutex> l(mu_);
    waiters_.erase(&self);
  }
  changed_.notify_all();
  return done();
}

void FakeClock::Advance(std::chrono::nanoseconds d) {
  std::lock_guard<std::mutex> lock(mu_);
  if (d.count() > 0) elapsed_ += d;
  // Under mu_, so no waiter can leave (and its cv go away) meanwhile.
  for (Waiter* w : waiters_) w->cv->notify_all();
}

bool FakeClock::AwaitWaiter(SteadyTime deadline, std::chrono::milliseconds timeout) const {
  std::unique_lock<std::mutex> lock(mu_);
  return changed_.wait_for(lock, timeout, [&] {
    for (const Waiter* w : waiters_) {
      if (w->deadline == deadline) return true;
    }
    return false;
  });
}

int FakeClock::waiters() const {
  std::lock_guard<std::mutex> lock(mu_);
  return static_cast<int>(waiters_.size());
}

}  // namespace ladder
