//===- ThreadPoolTest.cpp - the runtime's parallel-for dispatcher ---------===//
//
// Its own executable: the pool is process-wide and sized on first use, so
// ZAMBA2_NUM_THREADS is set before anything touches it. 8 threads on a
// 2-core machine oversubscribe on purpose: preemption between a worker's
// wake-up and its share is what exposed a lost/duplicated share before.
//
//===----------------------------------------------------------------------===//
#include "runtime/core/ThreadPool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <cstdlib>
#include <vector>

namespace {

struct Counts {
  std::vector<std::atomic<int>> hits;
  explicit Counts(size_t n) : hits(n) {}
};

void countRange(void *p, int64_t begin, int64_t end) {
  auto *c = static_cast<Counts *>(p);
  for (int64_t i = begin; i < end; ++i)
    c->hits[static_cast<size_t>(i)].fetch_add(1, std::memory_order_relaxed);
}

TEST(ThreadPool, EveryIterationExactlyOnceAcrossLoopSizes) {
  setenv("ZAMBA2_NUM_THREADS", "8", 1);
  ASSERT_EQ(zamba2::parallelThreadCount(), 8);
  // Alternate loops with fewer iterations than threads (some workers sit
  // out) and more (all take part): each iteration must run exactly once,
  // and every call must return (a lost share would hang here).
  for (int round = 0; round < 20000; ++round) {
    int64_t n = round % 2 ? 64 : 2 + round % 5;
    int64_t offset = round % 3;
    Counts counts(static_cast<size_t>(offset + n));
    zamba2_runtime_parallel_for(countRange, &counts, offset, offset + n);
    for (int64_t i = 0; i < offset + n; ++i)
      ASSERT_EQ(counts.hits[static_cast<size_t>(i)].load(), i < offset ? 0 : 1)
          << "round " << round << ", iteration " << i;
  }
}

TEST(ThreadPool, EmptyAndSingleRangesRunInline) {
  Counts counts(4);
  zamba2_runtime_parallel_for(countRange, &counts, 3, 3);
  zamba2_runtime_parallel_for(countRange, &counts, 1, 2);
  EXPECT_EQ(counts.hits[0].load(), 0);
  EXPECT_EQ(counts.hits[1].load(), 1);
  EXPECT_EQ(counts.hits[3].load(), 0);
}

} // namespace
