#include "runtime/executor.h"

#include <fmt/format.h>
#include <sys/mman.h>

#include <chrono>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <type_traits>

#include "base/error.h"
#include "runtime/gemm.h"
#include "runtime/library_calls.h"
#include "runtime/thread_scratch.h"

namespace reforge::runtime {
namespace {

constexpr int64_t kAlignment = 64;
constexpr int64_t kHugePage = int64_t{2} << 20;
// Launches with less work (elements written, or read by a reduction) run
// on the calling thread: waking the pool costs more than it saves.
constexpr int64_t kParallelWork = 1 << 15;

}  // namespace

AlignedBuffer::AlignedBuffer(int64_t bytes) : size_(bytes) {
  // Buffers of a huge page or more start on one and ask the kernel for
  // transparent huge pages (which it grants only on request here): the
  // LSH kernel reads [L, d] arrays at random rows, and at 64K tokens
  // (16 MiB a head) 4 KiB pages cost it 1-3% in kernel_bench.
  const bool huge = bytes >= kHugePage;
  const int64_t alignment = huge ? kHugePage : kAlignment;
  size_t rounded = static_cast<size_t>((std::max<int64_t>(bytes, 1) + alignment - 1) / alignment * alignment);
  void* p = std::aligned_alloc(static_cast<size_t>(alignment), rounded);
  if (!p) throw Error(fmt::format("cannot allocate {} bytes", bytes));
#if defined(MADV_HUGEPAGE)
  if (huge) madvise(p, rounded, MADV_HUGEPAGE);  // advice only: without it the pages are small
#endif
  std::memset(p, 0, rounded);
  data_.reset(static_cast<std::byte*>(p));
}

void AlignedBuffer::Free::operator()(std::byte* p) const { std::free(p); }

Executor::Executor(Program program, const KernelResolver& resolve, int threads)
    : Executor(std::move(program), resolve, ExecutorOptions{.threads = threads}) {}

Executor::Executor(Program program, const KernelResolver& resolve, const ExecutorOptions& options)
    : program_(std::move(program)),
      own_pool_(options.pool ? nullptr : std::make_unique<ThreadPool>(options.threads)),
      pool_(options.pool ? options.pool : own_pool_.get()),
      arena_data_(options.arena_memory ? options.arena_memory(program_.arena_bytes) : nullptr),
      communicator_(options.communicator) {
  if (!arena_data_) {
    own_arena_ = AlignedBuffer(program_.arena_bytes);
    arena_data_ = own_arena_.data();
  }
  for (const Slot& s : program_.slots) {
    slot_of_.emplace(s.name, static_cast<int>(slot_data_.size()));
    std::byte* external = options.slot_memory ? options.slot_memory(s) : nullptr;
    if (!external) external = own_slots_.emplace_back(s.type.bytes()).data();
    slot_data_.push_back(external);
  }
  for (size_t i = 0; i < program_.outputs.size(); ++i)
    output_of_.emplace(program_.outputs[i].name, static_cast<int>(i));
  // The GEMM micro-kernel the compiler generated for this program, when it
  // has one of the block this CPU's GEMM packs for (an artifact built for
  // another CPU may not): matmuls then run on it.
  gemm_micro_kernel_ = reinterpret_cast<GemmMicroKernel>(resolve(gemm_micro_kernel_symbol(host_gemm_block())));
  for (const Launch& launch : program_.launches) {
    Resolved r;
    if (launch.kind == Launch::Kind::kernel) {
      r.kernel = resolve(launch.function);
      if (!r.kernel) throw Error(fmt::format("no code for kernel '{}' ({})", launch.function, launch.node));
    } else {
      r.library = find_library_function(launch.function);
      if (!r.library)
        throw Error(fmt::format("the runtime has no library function '{}' ({})", launch.function, launch.node));
      // Once, here: a call's arguments are never checked against its
      // buffers again while steps run.
      validate_library_launch(launch, LibraryDevice::cpu);
      if (!launch.epilogue.empty()) {
        r.epilogue = resolve(launch.epilogue);
        if (!r.epilogue) throw Error(fmt::format("no code for epilogue '{}' ({})", launch.epilogue, launch.node));
      }
    }
    for (const BufferRef& b : launch.buffers) r.pointers.push_back(address(b));
    resolved_.push_back(std::move(r));
  }
}

std::byte* Executor::address(const BufferRef& ref) const {
  int64_t size = ref.slot < 0 ? program_.arena_bytes : program_.slots.at(ref.slot).type.bytes();
  if (ref.offset < 0 || ref.bytes < 0 || ref.offset + ref.bytes > size) {
    throw Error(fmt::format("buffer [{}, {}) lies outside its {} of {} bytes", ref.offset, ref.offset + ref.bytes,
                            ref.slot < 0 ? "arena" : "slot " + program_.slots[ref.slot].name, size));
  }
  return (ref.slot < 0 ? arena_data_ : slot_data_[ref.slot]) + ref.offset;
}

int Executor::find_slot(const std::string& name) const {
  auto it = slot_of_.find(name);
  return it == slot_of_.end() ? -1 : it->second;
}

void Executor::run() {
  thread_scratch();  // the calling thread's, taken in its first step
  seconds_.resize(resolved_.size(), 0.0);
  for (size_t i = 0; i < resolved_.size(); ++i) {
    const Launch& launch = program_.launches[i];
    const Resolved& r = resolved_[i];
    auto started = profiling_ ? std::chrono::steady_clock::now() : std::chrono::steady_clock::time_point{};
    try {
      if (r.kernel) {
        void* const* buffers = r.pointers.data();
        if (launch.work < kParallelWork || pool_->threads() == 1) {
          r.kernel(buffers, 0, launch.extent);
        } else {
          pool_->parallel_for(launch.extent, [&](int64_t begin, int64_t end) { r.kernel(buffers, begin, end); });
        }
      } else {
        r.library({r.pointers.data(), launch.ints.data(), static_cast<int64_t>(launch.ints.size()), launch.reals.data(),
                   *pool_, gemm_micro_kernel_, r.epilogue, communicator_});
      }
    } catch (const Error& e) {
      throw Error(fmt::format("{} ({}): {}", launch.node, launch.function, e.what()));
    }
    if (profiling_) seconds_[i] += std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    if (checking_numerics_) check_numerics(launch, r);
  }
}

void Executor::check_numerics(const Launch& launch, const Resolved& r) const {
  if (launch.output < 0 || !is_float(launch.output_dtype)) return;
  const BufferRef& where = launch.buffers[launch.output];
  const void* data = r.pointers[launch.output];
  with_element_type(launch.output_dtype, [&](auto zero) {
    using T = decltype(zero);
    if constexpr (std::is_floating_point_v<T>) {
      const T* values = static_cast<const T*>(data);
      int64_t n = where.bytes / static_cast<int64_t>(sizeof(T));
      for (int64_t k = 0; k < n; ++k) {
        if (!std::isfinite(values[k])) {
          throw Error(fmt::format("the first non-finite value of the step: {} = {} (element {} of %{}, op {}, {})",
                                  launch.node, static_cast<double>(values[k]), k, launch.node, launch.op,
                                  launch.source == "-" ? "no DSL line" : "created at " + launch.source));
        }
      }
    }
  });
}

const ProgramOutput& Executor::output_info(const std::string& name) const {
  auto it = output_of_.find(name);
  if (it == output_of_.end()) throw Error("the program has no output '" + name + "'");
  return program_.outputs[it->second];
}

const std::byte* Executor::output(const std::string& name) const { return address(output_info(name).where); }

std::string Executor::machine() const { return describe_gemm(uses_generated_gemm()); }

void Executor::write_slot(int slot, const void* host) {
  std::memcpy(slot_data_.at(slot), host, static_cast<size_t>(program_.slots.at(slot).type.bytes()));
}

void Executor::read_slot(int slot, void* host) const {
  std::memcpy(host, slot_data_.at(slot), static_cast<size_t>(program_.slots.at(slot).type.bytes()));
}

void Executor::read_output(const std::string& name, void* host) const {
  std::memcpy(host, output(name), static_cast<size_t>(output_info(name).type.bytes()));
}

void Executor::copy_output_to_slot(const std::string& name, int slot) {
  const ProgramOutput& o = output_info(name);
  const Slot& s = program_.slots.at(slot);
  if (o.type != s.type) {
    throw Error(fmt::format("output '{}' ({}) cannot be carried into slot '{}' ({})", name, type_to_string(o.type),
                            s.name, type_to_string(s.type)));
  }
  std::memcpy(slot_data_.at(slot), output(name), static_cast<size_t>(o.type.bytes()));
}

void Executor::copy_output_to_slot_row(const std::string& name, int slot, int64_t row) {
  RowCopy c = row_copy(name, output_info(name).type, program_.slots.at(slot), row);
  const std::byte* from = output(name);
  std::byte* to = slot_data_.at(slot) + c.first_offset;
  for (int64_t i = 0; i < c.blocks; ++i) {
    std::memcpy(to + i * c.stride, from + i * c.block_bytes, static_cast<size_t>(c.block_bytes));
  }
}

RowCopy row_copy(const std::string& output, const TensorType& row_type, const Slot& slot, int64_t row) {
  const Shape& r = row_type.shape;
  const Shape& s = slot.type.shape;
  bool fits = row_type.dtype == slot.type.dtype && r.size() == s.size() && r.size() >= 2 && r[r.size() - 2] == 1;
  for (size_t i = 0; fits && i < r.size(); ++i) fits = i == r.size() - 2 || r[i] == s[i];
  if (!fits) {
    throw Error(fmt::format("output '{}' ({}) is not a row of slot '{}' ({})", output, type_to_string(row_type),
                            slot.name, type_to_string(slot.type)));
  }
  const int64_t rows = s[s.size() - 2];
  if (row < 0 || row >= rows) {
    throw Error(fmt::format("row {} of slot '{}' is outside its {} rows", row, slot.name, rows));
  }
  RowCopy c;
  c.block_bytes = s.back() * dtype_bytes(row_type.dtype);
  c.blocks = c.block_bytes == 0 ? 0 : row_type.bytes() / c.block_bytes;
  c.stride = rows * c.block_bytes;
  c.first_offset = row * c.block_bytes;
  return c;
}

}  // namespace reforge::runtime
