// A fixed pool of worker threads for the parallel loops of kernels and
// library calls. parallel_for splits [0, extent) into contiguous ranges;
// the calling thread works too, and the first exception any range throws
// is rethrown to the caller once every range has finished.
//
// A training step is thousands of short launches, so between jobs a worker
// spins for a while (kSpin) before it sleeps on the condition variable,
// and the caller spins for the last pieces before it sleeps: a futex wake
// and the scheduler cost tens of microseconds a launch on a VM.
#pragma once

#include <atomic>
#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace reforge::runtime {

// A non-owning reference to a callable (void(int64_t, int64_t)): unlike
// std::function it never allocates, so running a step allocates nothing.
class RangeFunction {
 public:
  template <typename F>
  RangeFunction(const F& f)  // NOLINT: implicit, like std::function
      : object_(&f), call_([](const void* o, int64_t b, int64_t e) { (*static_cast<const F*>(o))(b, e); }) {}
  void operator()(int64_t begin, int64_t end) const { call_(object_, begin, end); }

 private:
  const void* object_;
  void (*call_)(const void*, int64_t, int64_t);
};

class ThreadPool {
 public:
  // threads <= 0: one per hardware thread.
  explicit ThreadPool(int threads = 0);
  ~ThreadPool();
  ThreadPool(const ThreadPool&) = delete;
  ThreadPool& operator=(const ThreadPool&) = delete;

  int threads() const { return static_cast<int>(workers_.size()) + 1; }

  // Runs fn(begin, end) over ranges covering [0, extent), at most `pieces`
  // of them (0: a few per thread).
  void parallel_for(int64_t extent, RangeFunction fn, int64_t pieces = 0);

 private:
  static constexpr std::chrono::microseconds kSpin{200};

  void work_loop();
  void run_pieces();
  // Spins until pred() holds or kSpin has passed; returns pred().
  template <typename Pred>
  static bool spin_until(const Pred& pred);

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // The current job, guarded by mutex_. The generation, the finished count
  // and the stop flag are also read without it, by the spinners.
  const RangeFunction* job_ = nullptr;
  int64_t extent_ = 0, pieces_ = 0, next_piece_ = 0;
  std::atomic<int64_t> finished_pieces_ = 0;
  std::atomic<uint64_t> generation_ = 0;
  std::atomic<bool> stopping_ = false;
  int sleeping_workers_ = 0;  // waiting on wake_
  std::exception_ptr error_;
};

}  // namespace reforge::runtime
