// Runs a Program: allocates its arena (exactly the plan's size) and its
// persistent slots once, resolves every launch to a function and its
// buffer pointers once, and then runs the launches in order, each split
// over the thread pool. Nothing is allocated while a step runs.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <unordered_map>
#include <vector>

#include "runtime/library.h"
#include "runtime/program.h"
#include "runtime/program_runner.h"
#include "runtime/thread_pool.h"

namespace reforge::runtime {

// A generated kernel: runs iterations [begin, end) of its parallel loop.
using KernelFunction = void (*)(void* const* buffers, int64_t begin, int64_t end);

// Memory aligned for vector loads, zero-filled.
class AlignedBuffer {
 public:
  AlignedBuffer() = default;
  explicit AlignedBuffer(int64_t bytes);
  std::byte* data() const { return data_.get(); }
  int64_t size() const { return size_; }

 private:
  struct Free {
    void operator()(std::byte* p) const;
  };
  std::unique_ptr<std::byte[], Free> data_;
  int64_t size_ = 0;
};

using KernelResolver = std::function<KernelFunction(const std::string&)>;

struct ExecutorOptions {
  int threads = 0;             // own pool of this many threads (0: one per hardware thread)
  ThreadPool* pool = nullptr;  // or run on this shared pool
  // Memory the caller owns for a slot (at least the slot's bytes), or null
  // for memory of the executor's own: entry points of one model share
  // their parameters this way.
  std::function<std::byte*(const Slot&)> slot_memory;
  // Memory the caller owns for the arena (at least `bytes`, 64-byte
  // aligned), or null for an arena of the executor's own. Programs that
  // never run at the same time (a model's training step and forward pass)
  // share one arena this way: nothing in an arena outlives its run.
  std::function<std::byte*(int64_t bytes)> arena_memory;
  // The replicas that the program's collectives (all-reduces) sum over;
  // null: this process alone.
  Communicator* communicator = nullptr;
};

class Executor : public ProgramRunner {
 public:
  // `resolve` finds code by symbol, null when missing: an Error for a
  // launch's kernel; the generated GEMM micro-kernel is optional (matmuls
  // then run on the runtime's copy).
  Executor(Program program, const KernelResolver& resolve, int threads = 0);
  Executor(Program program, const KernelResolver& resolve, const ExecutorOptions& options);

  const Program& program() const override { return program_; }
  // The GEMM it runs products on.
  std::string machine() const override;
  int threads() const { return pool_->threads(); }
  std::byte* arena_data() const { return arena_data_; }
  ThreadPool& pool() { return *pool_; }
  // Whether matmuls run on the compiler's generated GEMM micro-kernel (the
  // program's code has one for this CPU's register block).
  bool uses_generated_gemm() const { return gemm_micro_kernel_ != nullptr; }

  // Persistent slots by name; -1 when there is none.
  int find_slot(const std::string& name) const override;
  std::byte* slot_data(int slot) { return slot_data_.at(slot); }
  const std::byte* slot_data(int slot) const { return slot_data_.at(slot); }
  void write_slot(int slot, const void* host) override;
  void read_slot(int slot, void* host) const override;
  bool slots_are_host_memory() const override { return true; }

  // Runs every launch once. An error names the launch's node.
  void run() override;

  // With checking on, run() scans each launch's result for NaN and
  // infinity and throws an Error naming the first launch (node, op and
  // DSL line) that produced one. Slow; for finding where a loss went bad.
  void set_checking_numerics(bool on) { checking_numerics_ = on; }

  // With profiling on, run() adds each launch's wall time to seconds().
  void set_profiling(bool on) override { profiling_ = on; }
  const std::vector<double>& seconds() const override { return seconds_; }

  // Where an output of the last run is.
  const std::byte* output(const std::string& name) const;
  const ProgramOutput& output_info(const std::string& name) const override;
  const std::byte* output_in_place(const std::string& name) const override { return output(name); }
  void read_output(const std::string& name, void* host) const override;
  void copy_output_to_slot(const std::string& output, int slot) override;
  void copy_output_to_slot_row(const std::string& output, int slot, int64_t row) override;

 private:
  std::byte* address(const BufferRef& ref) const;
  struct Resolved;
  void check_numerics(const Launch& launch, const Resolved& r) const;

  struct Resolved {
    KernelFunction kernel = nullptr;
    LibraryFunction library = nullptr;
    KernelFunction epilogue = nullptr;  // a library call's generated epilogue
    std::vector<void*> pointers;
  };

  Program program_;
  std::unique_ptr<ThreadPool> own_pool_;
  ThreadPool* pool_;
  AlignedBuffer own_arena_;
  std::byte* arena_data_ = nullptr;
  std::vector<AlignedBuffer> own_slots_;
  std::vector<std::byte*> slot_data_;
  std::vector<Resolved> resolved_;
  GemmMicroKernel gemm_micro_kernel_ = nullptr;
  Communicator* communicator_ = nullptr;
  std::unordered_map<std::string, int> slot_of_, output_of_;  // by name
  bool profiling_ = false;
  bool checking_numerics_ = false;
  std::vector<double> seconds_;
};

}  // namespace reforge::runtime
