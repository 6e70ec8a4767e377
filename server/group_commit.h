// Group commit: calls of one kind that arrive together are handed to one
// batch function, which writes them in one transaction, and each caller gets
// its own answer through a callback. The Agent RPCs (server/service/
// workers_service.cc) submit here from gRPC's callback threads and return at
// once, so no gRPC thread waits on the database and no call is refused for
// want of a thread; the database sees one transaction per batch instead of
// one per call.
//
// Batching is natural, not timed: a thread takes everything queued (up to
// max_batch) the moment it is free, so a lone call on an idle coordinator
// waits for nothing, and under load the batch grows while the previous one
// is in the database. `threads` batches of one kind may be in the database
// at once.
//
// Backpressure: the queue holds at most max_queued calls; beyond that a
// call is answered UNAVAILABLE ("retry") — the cap is far above steady
// state, where each connection's HTTP/2 stream limit (the coordinator sets
// it) already slows callers at their end. A call whose deadline passed
// while it waited is answered DEADLINE_EXCEEDED without touching the
// database. Stop() answers what is still queued with UNAVAILABLE.
//
// Thread-safe. Items are held by value (a call's pointers: they must
// outlive its callback).
#pragma once

#include <absl/status/statusor.h>

#include <chrono>
#include <condition_variable>
#include <deque>
#include <exception>
#include <functional>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

namespace ladder {

struct GroupCommitOptions {
  size_t max_batch = 256;     // calls in one batch
  int threads = 2;            // batches in the database at once
  size_t max_queued = 50000;  // beyond: UNAVAILABLE
};

template <typename Item, typename Response>
class GroupCommit {
 public:
  using Done = std::function<void(absl::StatusOr<Response>)>;
  // Answers every request of the batch, in order (the result's size must be
  // the batch's).
  using BatchFn = std::function<std::vector<absl::StatusOr<Response>>(const std::vector<Item>&)>;
  // Told each batch's size and how long its oldest call waited to start.
  using ObserveFn = std::function<void(size_t batch, double oldest_wait_seconds)>;

  using Options = GroupCommitOptions;

  GroupCommit(std::string name, BatchFn batch, Options options, ObserveFn observe = nullptr)
      : name_(std::move(name)),
        batch_(std::move(batch)),
        observe_(std::move(observe)),
        options_(options) {
    for (int i = 0; i < std::max(1, options_.threads); ++i)
      threads_.emplace_back([this] { Loop(); });
  }
  GroupCommit(const GroupCommit&) = delete;
  GroupCommit& operator=(const GroupCommit&) = delete;
  ~GroupCommit() { Stop(); }

  void Submit(Item item, std::chrono::system_clock::time_point deadline, Done done) {
    bool stopping = false;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping = stopping_;
      if (!stopping_ && queue_.size() < options_.max_queued) {
        queue_.push_back(
            Pending{std::move(item), deadline, std::chrono::steady_clock::now(), std::move(done)});
        cv_.notify_one();
        return;
      }
    }
    done(absl::UnavailableError(stopping ? name_ + ": the coordinator is shutting down; retry"
                                         : name_ + ": the coordinator's queue is full; retry"));
  }

  // Answers what is queued with UNAVAILABLE and joins the threads (a batch
  // in the database finishes first). Idempotent.
  void Stop() {
    std::deque<Pending> left;
    std::vector<std::thread> threads;
    {
      std::lock_guard<std::mutex> lock(mu_);
      stopping_ = true;
      left.swap(queue_);
      threads.swap(threads_);
    }
    cv_.notify_all();
    for (auto& p : left)
      p.done(absl::UnavailableError(name_ + ": the coordinator is shutting down; retry"));
    for (auto& t : threads) t.join();
  }

  size_t queued() const {
    std::lock_guard<std::mutex> lock(mu_);
    return queue_.size();
  }

 private:
  struct Pending {
    Item item;
    std::chrono::system_clock::time_point deadline;
    std::chrono::steady_clock::time_point queued_at;
    Done done;
  };

  void Loop() {
    for (;;) {
      std::vector<Pending> batch;
      {
        std::unique_lock<std::mutex> lock(mu_);
        cv_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
        if (stopping_ && queue_.empty()) return;
        const auto now = std::chrono::system_clock::now();
        while (!queue_.empty() && batch.size() < options_.max_batch) {
          Pending p = std::move(queue_.front());
          queue_.pop_front();
          if (p.deadline <= now) {
            lock.unlock();
            p.done(absl::DeadlineExceededError(name_ + ": the deadline passed while queued"));
            lock.lock();
            continue;
          }
          batch.push_back(std::move(p));
        }
      }
      if (batch.empty()) continue;
      std::vector<Item> items;
      items.reserve(batch.size());
      for (auto& p : batch) items.push_back(std::move(p.item));
      std::vector<absl::StatusOr<Response>> answers;
      try {
        if (observe_) {
          observe_(batch.size(), std::chrono::duration<double>(std::chrono::steady_clock::now() -
                                                               batch.front().queued_at)
                                     .count());
        }
        answers = batch_(items);
      } catch (const std::exception& e) {
        // Every call is still answered, once.
        answers.assign(batch.size(), absl::InternalError(name_ + ": " + e.what()));
      }
      for (size_t i = 0; i < batch.size(); ++i) {
        batch[i].done(i < answers.size()
                          ? std::move(answers[i])
                          : absl::InternalError(name_ + ": the batch left a call unanswered"));
      }
    }
  }

  const std::string name_;
  const BatchFn batch_;
  const ObserveFn observe_;
  const Options options_;
  mutable std::mutex mu_;
  std::condition_variable cv_;
  std::deque<Pending> queue_;  // guarded by mu_
  bool stopping_ = false;      // guarded by mu_
  std::vector<std::thread> threads_;
};

}  // namespace ladder
