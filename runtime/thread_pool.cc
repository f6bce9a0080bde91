#include "runtime/thread_pool.h"

#include <immintrin.h>

#include <algorithm>
#include <latch>

#include "runtime/thread_scratch.h"

namespace reforge::runtime {

// Returns once every worker has its scratch (thread_scratch.h), so no
// allocation of the pool's happens after the constructor.
ThreadPool::ThreadPool(int threads) {
  if (threads <= 0) threads = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  std::latch ready(threads - 1);
  for (int i = 1; i < threads; ++i) {
    workers_.emplace_back([this, &ready] {
      thread_scratch();
      ready.count_down();
      work_loop();
    });
  }
  ready.wait();
}

ThreadPool::~ThreadPool() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  for (std::thread& t : workers_) t.join();
}

template <typename Pred>
bool ThreadPool::spin_until(const Pred& pred) {
  const auto deadline = std::chrono::steady_clock::now() + kSpin;
  for (int i = 0;; ++i) {
    if (pred()) return true;
    _mm_pause();
    if (i % 64 == 63 && std::chrono::steady_clock::now() > deadline) return pred();
  }
}

// Takes pieces of the current job until none is left.
void ThreadPool::run_pieces() {
  std::unique_lock<std::mutex> lock(mutex_);
  while (job_ && next_piece_ < pieces_) {
    int64_t piece = next_piece_++;
    const auto* job = job_;
    int64_t begin = extent_ * piece / pieces_, end = extent_ * (piece + 1) / pieces_;
    lock.unlock();
    std::exception_ptr error;
    try {
      (*job)(begin, end);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    if (error && !error_) error_ = error;
    if (finished_pieces_.fetch_add(1) + 1 == pieces_) done_.notify_all();
  }
}

void ThreadPool::work_loop() {
  uint64_t seen = 0;
  auto woken = [&] { return stopping_.load() || generation_.load() != seen; };
  for (;;) {
    if (!spin_until(woken)) {
      std::unique_lock<std::mutex> lock(mutex_);
      ++sleeping_workers_;
      wake_.wait(lock, woken);
      --sleeping_workers_;
    }
    if (stopping_) return;
    seen = generation_;
    run_pieces();
  }
}

void ThreadPool::parallel_for(int64_t extent, RangeFunction fn, int64_t pieces) {
  if (extent <= 0) return;
  if (pieces <= 0) pieces = 4 * threads();
  pieces = std::min(pieces, extent);
  if (pieces == 1 || workers_.empty()) {
    fn(0, extent);
    return;
  }
  bool sleepers;
  {
    std::lock_guard<std::mutex> lock(mutex_);
    job_ = &fn;
    extent_ = extent;
    pieces_ = pieces;
    next_piece_ = 0;
    finished_pieces_ = 0;
    error_ = nullptr;
    ++generation_;
    sleepers = sleeping_workers_ > 0;
  }
  if (sleepers) wake_.notify_all();
  run_pieces();
  std::exception_ptr error;
  auto finished = [&] { return finished_pieces_.load() == pieces; };
  spin_until(finished);
  {
    std::unique_lock<std::mutex> lock(mutex_);
    done_.wait(lock, finished);
    job_ = nullptr;
    error = error_;
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace reforge::runtime
