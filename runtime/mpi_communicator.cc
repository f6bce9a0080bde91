// The MPI communicator: every MPI call runs on one thread of its own (the
// one that initialised MPI, so MPI_THREAD_FUNNELED is all it asks for), in
// the order the ranks' programs issue them. A bucket's all-reduce started
// by the training step runs there while the step's own threads go on with
// the backward pass; without that thread, MPI's non-blocking collectives
// would advance only inside MPI calls, that is, at the wait.
#include <fmt/format.h>
#include <mpi.h>

#include <condition_variable>
#include <algorithm>
#include <cstring>
#include <deque>
#include <functional>
#include <future>
#include <map>
#include <mutex>
#include <thread>
#include <vector>

#include "base/error.h"
#include "runtime/process_communicator.h"

namespace reforge::runtime {
namespace {

MPI_Datatype mpi_type(DType dtype) {
  switch (dtype) {
    case DType::f32:
      return MPI_FLOAT;
    case DType::f64:
      return MPI_DOUBLE;
    case DType::i32:
      return MPI_INT32_T;
    case DType::i64:
      return MPI_INT64_T;
    case DType::boolean:
      break;
  }
  throw Error(fmt::format("an all-reduce of {} values: only floats and integers are summed", dtype_name(dtype)));
}

// MPI counts are ints: larger buffers go in pieces of this many elements.
constexpr int64_t kPiece = int64_t{1} << 30;

class MpiCommunicator : public Communicator {
 public:
  explicit MpiCommunicator(const CommunicatorOptions& options) : options_(options) {
    std::promise<void> ready;
    std::future<void> started = ready.get_future();
    thread_ = std::thread([this, &ready] { serve(ready); });
    started.get();  // rethrows a failed initialisation
  }

  ~MpiCommunicator() override {
    run([] { MPI_Finalize(); });
    {
      std::lock_guard lock(mutex_);
      stopping_ = true;
    }
    wake_.notify_one();
    thread_.join();
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }

  void all_reduce(void* data, int64_t count, DType dtype) override {
    run([&] { sum(data, count, dtype); });
  }

  void start_all_reduce(int tag, void* data, int64_t count, DType dtype) override {
    std::future<void> done = post([this, data, count, dtype] { sum(data, count, dtype); });
    std::lock_guard lock(mutex_);
    if (!pending_.emplace(tag, std::move(done)).second) {
      throw Error(fmt::format("all-reduce {} started twice without a wait", tag));
    }
  }

  void wait(int tag) override {
    std::future<void> done;
    {
      std::lock_guard lock(mutex_);
      auto it = pending_.find(tag);
      if (it == pending_.end()) throw Error(fmt::format("a wait for all-reduce {}, which was not started", tag));
      done = std::move(it->second);
      pending_.erase(it);
    }
    done.get();
  }

  void broadcast(void* data, int64_t bytes, int root) override {
    run([&] {
      auto* p = static_cast<char*>(data);
      for (int64_t at = 0; at < bytes; at += kPiece) {
        MPI_Bcast(p + at, static_cast<int>(std::min(kPiece, bytes - at)), MPI_BYTE, root, MPI_COMM_WORLD);
      }
    });
  }

  void barrier() override {
    run([] { MPI_Barrier(MPI_COMM_WORLD); });
  }

  [[noreturn]] void abort(int exit_code) override {
    // MPI_Abort may be called from any thread; it ends every rank.
    MPI_Abort(MPI_COMM_WORLD, exit_code);
    std::_Exit(exit_code);
  }

  std::string describe() const override {
    return fmt::format("MPI, {} ranks{}", size_, options_.deterministic_reduce ? ", fixed-order sums" : "");
  }

 private:
  // The communication thread: initialises MPI, then runs what is posted, in order.
  void serve(std::promise<void>& ready) {
    int provided = 0;
    if (MPI_Init_thread(nullptr, nullptr, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) {
      ready.set_exception(std::make_exception_ptr(Error("MPI_Init_thread failed")));
      return;
    }
    MPI_Comm_rank(MPI_COMM_WORLD, &rank_);
    MPI_Comm_size(MPI_COMM_WORLD, &size_);
    ready.set_value();
    for (;;) {
      std::packaged_task<void()> task;
      {
        std::unique_lock lock(mutex_);
        wake_.wait(lock, [&] { return stopping_ || !queue_.empty(); });
        if (queue_.empty()) return;
        task = std::move(queue_.front());
        queue_.pop_front();
      }
      task();
    }
  }

  std::future<void> post(std::function<void()> work) {
    std::packaged_task<void()> task(std::move(work));
    std::future<void> done = task.get_future();
    {
      std::lock_guard lock(mutex_);
      queue_.push_back(std::move(task));
    }
    wake_.notify_one();
    return done;
  }

  void run(std::function<void()> work) { post(std::move(work)).get(); }

  // On the communication thread.
  void sum(void* data, int64_t count, DType dtype) {
    if (options_.deterministic_reduce) return sum_in_rank_order(data, count, dtype);
    const MPI_Datatype type = mpi_type(dtype);
    auto* p = static_cast<char*>(data);
    const int64_t width = dtype_bytes(dtype);
    for (int64_t at = 0; at < count; at += kPiece) {
      MPI_Allreduce(MPI_IN_PLACE, p + at * width, static_cast<int>(std::min(kPiece, count - at)), type, MPI_SUM,
                    MPI_COMM_WORLD);
    }
  }

  // Every rank gathers every rank's values and adds them up from rank 0
  // on: the same sums in the same order everywhere, whatever the size.
  void sum_in_rank_order(void* data, int64_t count, DType dtype) {
    const MPI_Datatype type = mpi_type(dtype);
    const int64_t width = dtype_bytes(dtype);
    auto* p = static_cast<char*>(data);
    for (int64_t at = 0; at < count; at += kPiece) {
      const int64_t n = std::min(kPiece, count - at);
      gathered_.resize(static_cast<size_t>(n * width * size_));
      MPI_Allgather(p + at * width, static_cast<int>(n), type, gathered_.data(), static_cast<int>(n), type,
                    MPI_COMM_WORLD);
      with_element_type(dtype, [&](auto zero) {
        using T = decltype(zero);
        auto* out = reinterpret_cast<T*>(p + at * width);
        const auto* all = reinterpret_cast<const T*>(gathered_.data());
        for (int64_t i = 0; i < n; ++i) {
          T total = all[i];
          for (int r = 1; r < size_; ++r) total = static_cast<T>(total + all[r * n + i]);
          out[i] = total;
        }
      });
    }
  }

  CommunicatorOptions options_;
  int rank_ = 0, size_ = 1;
  std::thread thread_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<std::packaged_task<void()>> queue_;
  bool stopping_ = false;
  std::map<int, std::future<void>> pending_;
  std::vector<std::byte> gathered_;  // the communication thread's
};

}  // namespace

bool built_with_mpi() { return true; }

std::unique_ptr<Communicator> open_process_communicator(const CommunicatorOptions& options) {
  if (!mpi_launcher_ranks()) return std::make_unique<LocalCommunicator>();
  return std::make_unique<MpiCommunicator>(options);
}

}  // namespace reforge::runtime
