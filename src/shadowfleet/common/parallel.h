// Runs independent work items on a few threads. Reconcile passes use it so that one slow
// provider call (a health check timing out) does not hold up every other instance.
#pragma once

#include <algorithm>
#include <atomic>
#include <cstddef>
#include <functional>
#include <thread>
#include <vector>

namespace shadowfleet {

// Calls fn(i) for every i in [0, n) using up to `workers` threads (the caller's included).
// Returns when all calls have returned. `fn` must not throw.
inline void ParallelFor(size_t n, int workers, const std::function<void(size_t)>& fn) {
  if (workers <= 1 || n <= 1) {
    for (size_t i = 0; i < n; ++i) {
      fn(i);
    }
    return;
  }
  std::atomic<size_t> next{0};
  auto run = [&] {
    for (size_t i = next++; i < n; i = next++) {
      fn(i);
    }
  };
  std::vector<std::thread> threads;
  size_t extra = std::min<size_t>(static_cast<size_t>(workers) - 1, n - 1);
  threads.reserve(extra);
  for (size_t t = 0; t < extra; ++t) {
    threads.emplace_back(run);
  }
  run();
  for (auto& thread : threads) {
    thread.join();
  }
}

}  // namespace shadowfleet
