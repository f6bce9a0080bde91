// A fixed pool of worker threads for the parallel loops of kernels and
// library calls. parallel_for splits [0, extent) into contiguous ranges;
// the calling thread works too, and the first exception any range throws
// is rethrown to the caller once every range has finished.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <functional>
#include <mutex>
#include <thread>
#include <vector>

namespace reforge::runtime {

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
  void parallel_for(int64_t extent, const std::function<void(int64_t, int64_t)>& fn, int64_t pieces = 0);

 private:
  void work_loop();
  void run_pieces();

  std::vector<std::thread> workers_;
  std::mutex mutex_;
  std::condition_variable wake_, done_;
  // The current job, guarded by mutex_ except for the piece counter.
  const std::function<void(int64_t, int64_t)>* job_ = nullptr;
  int64_t extent_ = 0, pieces_ = 0, next_piece_ = 0, finished_pieces_ = 0;
  uint64_t generation_ = 0;
  bool stopping_ = false;
  std::exception_ptr error_;
};

}  // namespace reforge::runtime
