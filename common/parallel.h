// The one way revsweep splits CPU work over the machine's cores: contiguous chunks of an index
// range on up to hardware_concurrency() threads. Used where items are independent and large
// inputs are common (varying keys over 100k trials, per-setting statistics, bootstrap refits).
#pragma once

#include <algorithm>
#include <cstddef>
#include <exception>
#include <future>
#include <thread>
#include <vector>

namespace revsweep {

// How many threads ParallelFor uses for n items of at least min_chunk each: at most the
// machine's hardware threads (`threads` overrides it when > 0), at least 1.
inline size_t ParallelThreads(size_t n, size_t min_chunk, size_t threads = 0) {
  size_t hw = threads > 0 ? threads : std::max<size_t>(1, std::thread::hardware_concurrency());
  size_t by_size = min_chunk == 0 ? n : n / min_chunk;
  return std::max<size_t>(1, std::min(hw, by_size));
}

// Calls fn(lo, hi) on contiguous, disjoint ranges covering [0, n), one per thread, the first
// on this thread; a single call fn(0, n) when n < 2 * min_chunk or the machine has one core.
// fn must be safe to run on disjoint ranges at once. The first exception (in range order)
// reaches the caller after every range has ended.
template <typename Fn>
void ParallelFor(size_t n, size_t min_chunk, Fn&& fn, size_t threads = 0) {
  const size_t t = ParallelThreads(n, min_chunk, threads);
  if (t <= 1) {
    fn(size_t{0}, n);
    return;
  }
  std::vector<std::future<void>> rest;
  rest.reserve(t - 1);
  for (size_t i = 1; i < t; ++i) {
    const size_t lo = n * i / t, hi = n * (i + 1) / t;
    rest.push_back(std::async(std::launch::async, [&fn, lo, hi] { fn(lo, hi); }));
  }
  std::exception_ptr first;
  try {
    fn(size_t{0}, n / t);
  } catch (...) {
    first = std::current_exception();
  }
  for (auto& f : rest) {
    try {
      f.get();
    } catch (...) {
      if (!first) first = std::current_exception();
    }
  }
  if (first) std::rethrow_exception(first);
}

}  // namespace revsweep
