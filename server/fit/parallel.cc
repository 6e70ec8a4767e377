#include "server/fit/parallel.h"

#include <algorithm>
#include <atomic>
#include <thread>
#include <vector>

namespace ladder::fit {

int ResolveThreads(int requested) {
  if (requested > 0) return requested;
  return std::max(1u, std::thread::hardware_concurrency());
}

void ParallelFor(int count, int threads, const std::function<void(int, int)>& body) {
  if (count <= 0) return;
  threads = std::max(1, std::min(ResolveThreads(threads), count));
  if (threads == 1) {
    for (int i = 0; i < count; ++i) body(i, 0);
    return;
  }
  std::atomic<int> next{0};
  auto work = [&](int worker) {
    for (int i = next.fetch_add(1); i < count; i = next.fetch_add(1)) body(i, worker);
  };
  std::vector<std::thread> pool;
  pool.reserve(threads - 1);
  for (int t = 1; t < threads; ++t) pool.emplace_back(work, t);
  work(0);
  for (std::thread& t : pool) t.join();
}

}  // namespace ladder::fit
