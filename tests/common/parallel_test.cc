// common/parallel.h: ranges cover [0, n) exactly once, the thread count follows the machine (or
// the override), and an exception from any range reaches the caller.
#include "common/parallel.h"

#include <gtest/gtest.h>

#include <atomic>
#include <mutex>
#include <set>
#include <stdexcept>
#include <utility>
#include <vector>

namespace revsweep {
namespace {

TEST(ParallelFor, RangesCoverEveryIndexOnce) {
  for (size_t threads : {1, 2, 3, 8}) {
    for (size_t n : {0, 1, 7, 100, 1001}) {
      std::vector<std::atomic<int>> hits(n);
      std::mutex mu;
      std::set<std::pair<size_t, size_t>> ranges;
      ParallelFor(
          n, 10,
          [&](size_t lo, size_t hi) {
            for (size_t i = lo; i < hi; ++i) ++hits[i];
            std::lock_guard<std::mutex> lock(mu);
            ranges.insert({lo, hi});
          },
          threads);
      for (size_t i = 0; i < n; ++i) EXPECT_EQ(hits[i].load(), 1) << "n " << n << " i " << i;
      EXPECT_EQ(ranges.size(), ParallelThreads(n, 10, threads)) << "n " << n;
    }
  }
}

TEST(ParallelFor, ThreadCountComesFromTheMachineAndTheWork) {
  EXPECT_EQ(ParallelThreads(5, 10, 4), 1u);     // too little work to split
  EXPECT_EQ(ParallelThreads(25, 10, 4), 2u);    // two chunks of at least 10
  EXPECT_EQ(ParallelThreads(1000, 10, 4), 4u);  // capped by the thread count
  EXPECT_GE(ParallelThreads(1000, 1), 1u);
  EXPECT_LE(ParallelThreads(1000, 1), std::max(1u, std::thread::hardware_concurrency()));
}

TEST(ParallelFor, AnExceptionFromAnyRangeReachesTheCaller) {
  std::atomic<int> ran{0};
  EXPECT_THROW(ParallelFor(
                   100, 10,
                   [&](size_t lo, size_t) {
                     ++ran;
                     if (lo > 0) throw std::runtime_error("late range");
                   },
                   4),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 4);  // every range ran to its end first
}

}  // namespace
}  // namespace revsweep
