// The thread pool: every index of a job runs exactly once, whatever the
// extent and piece count; the first exception reaches the caller after
// every piece; thousands of back-to-back jobs (workers spinning between
// them) and jobs after a pause (workers asleep) both complete; a pool is
// destroyed cleanly in either state. A worker's first GEMM allocates
// nothing: its scratch was taken before the constructor returned.
#include "runtime/thread_pool.h"

#include <gtest/gtest.h>

#include <atomic>
#include <stdexcept>
#include <thread>
#include <vector>

#include "runtime/gemm.h"
#include "tests/testing/allocation_counter.h"

namespace reforge::runtime {
namespace {

void expect_each_index_once(ThreadPool& pool, int64_t extent, int64_t pieces) {
  std::vector<std::atomic<int>> hits(static_cast<size_t>(extent));
  pool.parallel_for(
      extent,
      [&](int64_t begin, int64_t end) {
        for (int64_t i = begin; i < end; ++i) hits[i].fetch_add(1);
      },
      pieces);
  for (int64_t i = 0; i < extent; ++i) ASSERT_EQ(hits[i].load(), 1) << "index " << i << " of " << extent;
}

TEST(ThreadPool, EveryIndexRunsOnce) {
  for (int threads : {1, 2, 3}) {
    ThreadPool pool(threads);
    for (int64_t extent : {1, 2, 7, 64, 1000}) {
      for (int64_t pieces : {0, 1, 3, 5000}) expect_each_index_once(pool, extent, pieces);
    }
  }
}

TEST(ThreadPool, BackToBackJobsAndJobsAfterAPause) {
  ThreadPool pool(2);
  std::atomic<int64_t> total = 0;
  for (int job = 0; job < 20000; ++job) {
    pool.parallel_for(4, [&](int64_t begin, int64_t end) { total += end - begin; });
  }
  EXPECT_EQ(total.load(), 4 * 20000);
  for (int job = 0; job < 3; ++job) {
    std::this_thread::sleep_for(std::chrono::milliseconds(5));  // past the spin: the worker sleeps
    expect_each_index_once(pool, 100, 0);
  }
}

TEST(ThreadPool, FirstExceptionReachesTheCallerAfterEveryPiece) {
  ThreadPool pool(2);
  std::atomic<int> ran = 0;
  EXPECT_THROW(pool.parallel_for(
                   8,
                   [&](int64_t begin, int64_t) {
                     ++ran;
                     if (begin == 3) throw std::runtime_error("piece 3");
                   },
                   8),
               std::runtime_error);
  EXPECT_EQ(ran.load(), 8);
  expect_each_index_once(pool, 10, 0);  // the pool still works
}

TEST(ThreadPool, DestroyedWhileWorkersSpinOrSleep) {
  for (int pause_ms : {0, 5}) {
    ThreadPool pool(3);
    expect_each_index_once(pool, 16, 0);
    std::this_thread::sleep_for(std::chrono::milliseconds(pause_ms));
  }
}

// The fused attention kernels run a GEMM on whichever thread takes a
// slice, and which one does changes from run to run: a worker that took
// none in a warm-up step must not allocate its panels in the next.
TEST(ThreadPool, AWorkersFirstGemmAllocatesNothing) {
  if (!testing::counting_allocations()) GTEST_SKIP() << "allocations are not counted under AddressSanitizer";
  ThreadPool pool(2);
  const int64_t n = 48;
  std::vector<float> a(n * n, 1.0f), b(n * n, 2.0f), c(2 * n * n);
  const GemmLayout layout = GemmLayout::dense(n, n, n);
  gemm(a.data(), b.data(), c.data(), n, n, n, layout);  // the calling thread's scratch, as a step's first run takes it
  std::atomic<int> started = 0;
  std::atomic<bool> on_two_threads = false;
  const std::thread::id caller = std::this_thread::get_id();
  testing::CountingAllocations counter;
  pool.parallel_for(
      2,
      [&](int64_t begin, int64_t) {
        // Each piece waits for the other, so the worker runs one.
        started.fetch_add(1);
        while (started.load() < 2) std::this_thread::yield();
        if (std::this_thread::get_id() != caller) on_two_threads = true;
        gemm(a.data(), b.data(), c.data() + begin * n * n, n, n, n, layout);
      },
      2);
  EXPECT_EQ(counter.count(), 0);
  EXPECT_TRUE(on_two_threads.load());
  EXPECT_EQ(c[0], 2.0f * n);
  EXPECT_EQ(c[2 * n * n - 1], 2.0f * n);
}

}  // namespace
}  // namespace reforge::runtime
