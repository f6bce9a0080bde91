#include "runtime/cuda_executor.h"

#include <fmt/format.h>

#include <algorithm>
#include <limits>

#include "base/error.h"
#include "runtime/cuda_library.h"
#include "runtime/library_calls.h"

namespace reforge::runtime {
namespace {

int64_t slot_bytes(const Slot& s) { return s.type.bytes(); }

// The GPU library's kernels run blocks of this many threads.
constexpr int kLibraryBlockThreads = 256;

}  // namespace

// One kernel launch, resolved: its function, grid, and the argument block
// cuLaunchKernel reads (a pointer to each argument: for a generated kernel
// the buffers' device addresses in order, for a library kernel the address
// of its block of arguments in GPU memory; then begin and end). A program
// launch is one such step, or several for a library call.
struct CudaExecutor::Resolved {
  CUfunction function = nullptr;  // null for a product on cuBLAS
  int gemm = -1;                  // that product, in gemms_
  int64_t blocks = 0;
  int threads_per_block = 0;
  std::vector<CUdeviceptr> pointers;
  long long begin = 0, end = 0;
  std::vector<void*> arguments;
  size_t launch = 0;  // the program launch it belongs to
};

// One product C[b] = A[b] B[b] (+ C[b] when the bias was put there first)
// of row-major matrices, as cuBLAS's column-major GEMM sees them: a
// row-major r x c matrix is a column-major c x r one, so C^T = B^T A^T,
// with B first. An operand stored transposed is taken with op T.
struct CudaExecutor::Gemm {
  DType dtype;
  int m, n, k, batch;
  bool a_transposed, b_transposed, accumulate;
  CUdeviceptr a, b, c;
};

CudaExecutor::CudaExecutor(Program program, const CudaCode& code, const CudaExecutorOptions& options)
    : driver_(CudaDriver::get()), program_(std::move(program)) {
  device_ = driver_.device(options.device);  // makes its primary context current

  // Everything that cannot run is refused before anything is allocated.
  std::unordered_map<std::string, const CudaKernel*> kernels;
  for (const CudaKernel& k : code.kernels) kernels[k.name] = &k;
  auto inside = [&](const BufferRef& b) {
    const int64_t size = b.slot < 0                                         ? program_.arena_bytes
                         : b.slot < static_cast<int>(program_.slots.size()) ? slot_bytes(program_.slots[b.slot])
                                                                            : -1;
    return b.offset >= 0 && b.bytes >= 0 && size >= 0 && b.offset <= size - b.bytes;
  };
  for (const ProgramOutput& o : program_.outputs) {
    if (!inside(o.where) || o.where.bytes < o.type.bytes()) {
      throw Error(fmt::format("output '{}' lies outside its memory", o.name));
    }
  }
  std::vector<std::string> missing;
  std::vector<std::vector<CudaLibraryStep>> library(program_.launches.size());
  for (size_t i = 0; i < program_.launches.size(); ++i) {
    const Launch& l = program_.launches[i];
    // Every buffer inside the arena or its slot, every library call's
    // buffers as its descriptor needs: a GPU kernel cannot refuse a bad
    // address later.
    for (const BufferRef& b : l.buffers) {
      if (!inside(b)) throw Error(fmt::format("a buffer of {} lies outside its memory", describe(l)));
    }
    if (l.kind == Launch::Kind::library) {
      validate_library_launch(l, LibraryDevice::cuda);
      if (!has_cuda_implementation(l.function)) {
        missing.push_back(fmt::format("{} ({})", l.function, l.node));
        continue;
      }
      library[i] = cuda_library_steps(l);
      for (const CudaLibraryStep& step : library[i]) {
        if (step.generated_epilogue && !kernels.count(step.kernel)) {
          throw Error(fmt::format("the GPU code has no epilogue kernel '{}' for {}", step.kernel, describe(l)));
        }
      }
    } else if (!kernels.count(l.function)) {
      throw Error(fmt::format("the GPU code has no kernel '{}' for {}", l.function, describe(l)));
    }
  }
  if (!missing.empty()) {
    throw Error(fmt::format("the program calls {} library function(s) that have no GPU implementation yet: {}",
                            missing.size(), fmt::join(missing, ", ")));
  }
  int64_t needed = program_.arena_bytes;
  for (const Slot& s : program_.slots) needed += slot_bytes(s);
  if (needed > device_.free_bytes) {
    throw Error(fmt::format("the program needs {} bytes of GPU memory; GPU {} ({}) has {} free", needed,
                            device_.ordinal, device_.name, device_.free_bytes));
  }

  // The cubin if this GPU runs it, else the PTX (compiled by the driver).
  CUresult loaded = driver_.cuModuleLoadData(&module_, code.cubin.data());
  if (loaded != CUDA_SUCCESS) {
    std::string ptx = code.ptx;  // NUL-terminated for the driver
    CUresult from_ptx = driver_.cuModuleLoadData(&module_, ptx.c_str());
    if (from_ptx != CUDA_SUCCESS) {
      const char* cubin_error = "?";
      driver_.cuGetErrorName(loaded, &cubin_error);
      driver_.check(
          from_ptx,
          fmt::format("loading the GPU code (the sm_{} cubin failed with {}; its PTX)", code.sm, cubin_error).c_str());
    }
  }
  driver_.check(driver_.cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");
  const Cublas* cublas = options.cublas ? Cublas::get() : nullptr;
  bool has_product = false;
  for (const auto& steps : library) {
    for (const CudaLibraryStep& step : steps) has_product = has_product || step.product.has_value();
  }
  // A cuBLAS that cannot start here (no runtime for this driver) leaves
  // the products to the library's kernel.
  if (cublas && has_product && cublas->cublasCreate_v2(&cublas_handle_) != CUBLAS_STATUS_SUCCESS) {
    cublas_handle_ = nullptr;
  }
  if (cublas_handle_) {
    cublas->check(cublas->cublasSetStream_v2(cublas_handle_, reinterpret_cast<cudaStream_t>(stream_)),
                  "cublasSetStream");
  }

  if (program_.arena_bytes > 0) {
    driver_.check(driver_.cuMemAlloc(&arena_, program_.arena_bytes), "allocating the arena");
    driver_.check(driver_.cuMemsetD8(arena_, 0, program_.arena_bytes), "clearing the arena");
  }
  for (size_t i = 0; i < program_.slots.size(); ++i) {
    const Slot& s = program_.slots[i];
    CUdeviceptr p = 0;
    int64_t bytes = std::max<int64_t>(slot_bytes(s), 1);
    driver_.check(driver_.cuMemAlloc(&p, bytes), "allocating a slot");
    driver_.check(driver_.cuMemsetD8(p, 0, bytes), "clearing a slot");
    slots_.push_back(p);
    slot_of_[s.name] = static_cast<int>(i);
  }
  for (size_t i = 0; i < program_.outputs.size(); ++i) output_of_[program_.outputs[i].name] = static_cast<int>(i);

  // Library kernels read their buffers' addresses and constants from a
  // block of GPU memory, written once here: [launch, status word, buffer
  // count, addresses..., constants...] (cuda_library_source.h).
  std::vector<int64_t> blocks;
  std::vector<size_t> block_of;
  for (size_t i = 0; i < program_.launches.size(); ++i) {
    for (const CudaLibraryStep& step : library[i]) {
      if (step.generated_epilogue || (step.product && cublas_handle_)) continue;
      block_of.push_back(blocks.size());
      blocks.push_back(static_cast<int64_t>(i));
      blocks.push_back(0);  // the status word's address, once it has one
      blocks.push_back(static_cast<int64_t>(step.buffers.size()));
      for (int b : step.buffers) blocks.push_back(static_cast<int64_t>(address(program_.launches[i].buffers.at(b))));
      blocks.insert(blocks.end(), step.constants.begin(), step.constants.end());
    }
  }
  if (!blocks.empty()) {
    driver_.check(driver_.cuMemAlloc(&status_, sizeof(int64_t)), "allocating the status word");
    driver_.check(driver_.cuMemsetD8(status_, 0, sizeof(int64_t)), "clearing the status word");
    for (size_t at : block_of) blocks[at + 1] = static_cast<int64_t>(status_);
    const size_t bytes = blocks.size() * sizeof(int64_t);
    driver_.check(driver_.cuMemAlloc(&library_arguments_, bytes), "allocating the library's arguments");
    driver_.check(driver_.cuMemcpyHtoD(library_arguments_, blocks.data(), bytes), "copying the library's arguments");
  }

  auto function = [&](const std::string& name) {
    CUfunction f = nullptr;
    driver_.check(driver_.cuModuleGetFunction(&f, module_, name.c_str()),
                  fmt::format("finding GPU kernel '{}'", name).c_str());
    return f;
  };
  auto add = [&](size_t launch, CUfunction f, int64_t threads, int block_threads) {
    auto r = std::make_unique<Resolved>();
    r->function = f;
    r->launch = launch;
    r->threads_per_block = block_threads;
    r->blocks = (threads + block_threads - 1) / block_threads;
    if (r->blocks > std::numeric_limits<int32_t>::max()) {
      throw Error(
          fmt::format("{} needs {} blocks, more than a grid holds", describe(program_.launches[launch]), r->blocks));
    }
    resolved_.push_back(std::move(r));
    return resolved_.back().get();
  };
  // The argument block of a resolved step, once its pointers are final.
  auto pack = [](Resolved& r) {
    for (CUdeviceptr& p : r.pointers) r.arguments.push_back(&p);
    r.arguments.push_back(&r.begin);
    r.arguments.push_back(&r.end);
  };
  auto steps_on_cublas = [&](size_t launch, const CudaLibraryStep& step) {
    const CudaProduct& p = *step.product;
    if (std::max({p.m, p.n, p.k, p.batch}) > std::numeric_limits<int>::max()) {
      throw Error(fmt::format("{}: a product larger than cuBLAS's int sizes", describe(program_.launches[launch])));
    }
    const Launch& l = program_.launches[launch];
    gemms_.push_back({.dtype = p.dtype,
                      .m = static_cast<int>(p.m),
                      .n = static_cast<int>(p.n),
                      .k = static_cast<int>(p.k),
                      .batch = static_cast<int>(p.batch),
                      .a_transposed = p.a_transposed,
                      .b_transposed = p.b_transposed,
                      .accumulate = p.accumulate,
                      .a = address(l.buffers.at(step.buffers.at(0))),
                      .b = address(l.buffers.at(step.buffers.at(1))),
                      .c = address(l.buffers.at(step.buffers.at(2)))});
    auto r = std::make_unique<Resolved>();
    r->gemm = static_cast<int>(gemms_.size()) - 1;
    r->launch = launch;
    r->blocks = p.batch * p.m * p.n > 0 ? 1 : 0;
    resolved_.push_back(std::move(r));
  };
  size_t next_block = 0;
  for (size_t i = 0; i < program_.launches.size(); ++i) {
    const Launch& l = program_.launches[i];
    if (l.kind == Launch::Kind::kernel) {
      const CudaKernel& k = *kernels.at(l.function);
      Resolved* r = add(i, function(k.name), l.extent * k.threads_per_iteration, k.block_threads);
      for (const BufferRef& b : l.buffers) r->pointers.push_back(address(b));
      r->end = l.extent;
      pack(*r);
      continue;
    }
    for (const CudaLibraryStep& step : library[i]) {
      if (step.product && cublas_handle_) {
        steps_on_cublas(i, step);
        continue;
      }
      if (step.generated_epilogue) {  // over the result's flat elements
        const CudaKernel& k = *kernels.at(step.kernel);
        Resolved* r = add(i, function(k.name), step.threads * k.threads_per_iteration, k.block_threads);
        for (int b : step.buffers) r->pointers.push_back(address(l.buffers.at(b)));
        r->end = step.threads;
        pack(*r);
        continue;
      }
      Resolved* r = add(i, function(step.kernel), step.threads, kLibraryBlockThreads);
      r->pointers.push_back(library_arguments_ + block_of[next_block++] * sizeof(int64_t));
      r->end = step.threads;
      pack(*r);
    }
  }
  seconds_.assign(program_.launches.size(), 0.0);
}

CudaExecutor::~CudaExecutor() {
  // Nothing can be reported from here; the context keeps working.
  if (stream_) driver_.cuStreamSynchronize(stream_);
  if (cublas_handle_) Cublas::get()->cublasDestroy_v2(cublas_handle_);
  for (CUdeviceptr p : slots_) driver_.cuMemFree(p);
  if (arena_) driver_.cuMemFree(arena_);
  if (library_arguments_) driver_.cuMemFree(library_arguments_);
  if (status_) driver_.cuMemFree(status_);
  if (stream_) driver_.cuStreamDestroy(stream_);
  if (module_) driver_.cuModuleUnload(module_);
}

CUdeviceptr CudaExecutor::address(const BufferRef& ref) const {
  return (ref.slot < 0 ? arena_ : slots_.at(ref.slot)) + static_cast<CUdeviceptr>(ref.offset);
}

std::string CudaExecutor::machine() const {
  return fmt::format("GPU {} ({}, sm_{}), products on {}", device_.ordinal, device_.name, device_.sm,
                     uses_cublas() ? "cuBLAS" : "the GPU library's kernel");
}

std::string CudaExecutor::describe(const Launch& l) const { return fmt::format("{} ({}, {})", l.node, l.op, l.source); }

int CudaExecutor::find_slot(const std::string& name) const {
  auto it = slot_of_.find(name);
  return it == slot_of_.end() ? -1 : it->second;
}

void CudaExecutor::write_slot(int slot, const void* host) {
  driver_.check(driver_.cuMemcpyHtoD(slots_.at(slot), host, slot_bytes(program_.slots.at(slot))),
                "copying a slot to the GPU");
}

void CudaExecutor::read_slot(int slot, void* host) const {
  driver_.check(driver_.cuStreamSynchronize(stream_), "waiting for the GPU");
  driver_.check(driver_.cuMemcpyDtoH(host, slots_.at(slot), slot_bytes(program_.slots.at(slot))),
                "copying a slot from the GPU");
}

const ProgramOutput& CudaExecutor::output_info(const std::string& name) const {
  auto it = output_of_.find(name);
  if (it == output_of_.end()) throw Error("the program has no output '" + name + "'");
  return program_.outputs[it->second];
}

void CudaExecutor::read_output(const std::string& name, void* host) const {
  const ProgramOutput& o = output_info(name);
  driver_.check(driver_.cuStreamSynchronize(stream_), "waiting for the GPU");
  driver_.check(driver_.cuMemcpyDtoH(host, address(o.where), o.type.bytes()), "copying an output from the GPU");
}

void CudaExecutor::copy_output_to_slot(const std::string& output, int slot) {
  const ProgramOutput& o = output_info(output);
  const Slot& s = program_.slots.at(slot);
  if (o.type != s.type) {
    throw Error(fmt::format("output '{}' ({}) cannot be carried into slot '{}' ({})", output, type_to_string(o.type),
                            s.name, type_to_string(s.type)));
  }
  driver_.check(driver_.cuMemcpyDtoDAsync(slots_.at(slot), address(o.where), o.type.bytes(), stream_),
                "copying an output into its slot on the GPU");
}

void CudaExecutor::copy_output_to_slot_row(const std::string& output, int slot, int64_t row) {
  RowCopy c = row_copy(output, output_info(output).type, program_.slots.at(slot), row);
  for (int64_t i = 0; i < c.blocks; ++i) {
    driver_.check(
        driver_.cuMemcpyDtoDAsync(slots_.at(slot) + c.first_offset + i * c.stride,
                                  address(output_info(output).where) + i * c.block_bytes, c.block_bytes, stream_),
        "copying a cache row into its slot on the GPU");
  }
}

void CudaExecutor::run_gemm(const Gemm& g) const {
  const Cublas& cublas = *Cublas::get();
  // C^T (n x m) = op(B^T) (n x k) op(A^T) (k x m), column-major.
  const cublasOperation_t op_b = g.b_transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  const cublasOperation_t op_a = g.a_transposed ? CUBLAS_OP_T : CUBLAS_OP_N;
  // Leading dimensions of at least 1, as cuBLAS requires, also where a
  // dimension is 0 (nothing is read then).
  const int ldb = std::max(1, g.b_transposed ? g.k : g.n), lda = std::max(1, g.a_transposed ? g.m : g.k),
            ldc = std::max(1, g.n);
  const long long stride_a = static_cast<long long>(g.m) * g.k, stride_b = static_cast<long long>(g.k) * g.n,
                  stride_c = static_cast<long long>(g.m) * g.n;
  cublasStatus_t status;
  if (g.dtype == DType::f32) {
    const float one = 1, beta = g.accumulate ? 1 : 0;
    status = cublas.cublasSgemmStridedBatched(cublas_handle_, op_b, op_a, g.n, g.m, g.k, &one,
                                              reinterpret_cast<const float*>(g.b), ldb, stride_b,
                                              reinterpret_cast<const float*>(g.a), lda, stride_a, &beta,
                                              reinterpret_cast<float*>(g.c), ldc, stride_c, g.batch);
  } else {
    const double one = 1, beta = g.accumulate ? 1 : 0;
    status = cublas.cublasDgemmStridedBatched(cublas_handle_, op_b, op_a, g.n, g.m, g.k, &one,
                                              reinterpret_cast<const double*>(g.b), ldb, stride_b,
                                              reinterpret_cast<const double*>(g.a), lda, stride_a, &beta,
                                              reinterpret_cast<double*>(g.c), ldc, stride_c, g.batch);
  }
  cublas.check(status, "cuBLAS's GEMM");
}

void CudaExecutor::run() {
  CUevent before = nullptr, after = nullptr;
  if (profiling_) {
    driver_.check(driver_.cuEventCreate(&before, CU_EVENT_DEFAULT), "cuEventCreate");
    driver_.check(driver_.cuEventCreate(&after, CU_EVENT_DEFAULT), "cuEventCreate");
  }
  for (size_t i = 0; i < resolved_.size(); ++i) {
    Resolved& r = *resolved_[i];
    if (r.blocks == 0) continue;
    if (profiling_) driver_.cuEventRecord(before, stream_);
    CUresult launched = CUDA_SUCCESS;
    if (r.gemm >= 0) {
      try {
        run_gemm(gemms_[r.gemm]);
      } catch (const Error& e) {
        throw Error(fmt::format("{} for {}", e.what(), describe(program_.launches[r.launch])));
      }
    } else {
      launched = driver_.cuLaunchKernel(r.function, static_cast<unsigned>(r.blocks), 1, 1,
                                        static_cast<unsigned>(r.threads_per_block), 1, 1, 0, stream_,
                                        r.arguments.data(), nullptr);
    }
    if (launched == CUDA_SUCCESS && (synchronous_ || profiling_)) launched = driver_.cuStreamSynchronize(stream_);
    if (launched != CUDA_SUCCESS) {
      const char* name = "an unknown error";
      driver_.cuGetErrorName(launched, &name);
      const Launch& l = program_.launches[r.launch];
      throw Error(fmt::format("GPU kernel {} for {} failed: {}", l.function, describe(l), name));
    }
    if (profiling_) {
      driver_.cuEventRecord(after, stream_);
      driver_.cuEventSynchronize(after);
      float milliseconds = 0;
      driver_.cuEventElapsedTime(&milliseconds, before, after);
      seconds_[r.launch] += milliseconds / 1000.0;
    }
  }
  if (profiling_) {
    driver_.cuEventDestroy(before);
    driver_.cuEventDestroy(after);
  }
  driver_.check(driver_.cuStreamSynchronize(stream_),
                "the step on the GPU (run with synchronous launches to name the kernel)");
  // A library kernel that met an index out of range named its launch.
  if (status_) {
    int64_t status = 0;
    driver_.check(driver_.cuMemcpyDtoH(&status, status_, sizeof status), "reading the status word");
    if (status != 0) {
      driver_.cuMemsetD8(status_, 0, sizeof status);
      const Launch& l = program_.launches.at(static_cast<size_t>(status - 1));
      throw Error(fmt::format("{} for {}: an index is out of range", l.function, describe(l)));
    }
  }
}

std::vector<CudaExecutor::LaunchShape> CudaExecutor::launch_shapes() const {
  std::vector<LaunchShape> out;
  for (const auto& r : resolved_) {
    if (r->gemm < 0) out.push_back({r->blocks, r->threads_per_block});
  }
  return out;
}

}  // namespace reforge::runtime
