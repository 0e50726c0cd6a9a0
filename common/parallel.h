// The one way revsweep splits CPU work over the two cores of a small machine: halves of an
// index range on two threads. Used where items are independent and large inputs are common
// (varying keys over 100k trials, per-setting statistics, bootstrap refits).
#pragma once

#include <cstddef>
#include <future>
#include <thread>

namespace revsweep {

// Calls fn(lo, hi) for [0, n/2) on this thread and [n/2, n) on a second one when n >= min_n
// and the machine has at least two hardware threads; otherwise fn(0, n) once. fn must be
// safe to run on disjoint ranges at once. An exception from either half reaches the caller
// (after both halves have ended).
template <typename Fn>
void ForTwoHalves(size_t n, size_t min_n, Fn&& fn) {
  if (n < min_n || std::thread::hardware_concurrency() < 2) {
    fn(size_t{0}, n);
    return;
  }
  auto upper = std::async(std::launch::async, [&fn, n] { fn(n / 2, n); });
  fn(size_t{0}, n / 2);
  upper.get();
}

}  // namespace revsweep
