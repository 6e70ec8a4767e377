// A minimal fork-join loop over indices on std::threads: the fits use it for
// their starts and bootstrap resamples. Work is handed out one index at a
// time from an atomic counter, so uneven tasks balance themselves.
#pragma once

#include <functional>

namespace ladder::fit {

// The number of threads to use for `requested` (<= 0 means
// std::thread::hardware_concurrency(), at least 1).
int ResolveThreads(int requested);

// Calls body(index, worker) for every index in [0, count), on up to
// `threads` threads (worker in [0, threads)); returns when all are done.
// With threads == 1 it runs inline on the caller's thread. `body` must be
// safe to call concurrently for different indices and must not throw.
void ParallelFor(int count, int threads, const std::function<void(int index, int worker)>& body);

}  // namespace ladder::fit
