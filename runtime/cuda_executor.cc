#include "runtime/cuda_executor.h"

#include <fmt/format.h>

#include <limits>

#include "base/error.h"

namespace reforge::runtime {
namespace {

int64_t slot_bytes(const Slot& s) { return s.type.bytes(); }

}  // namespace

// One launch, resolved: its function, grid, and the argument block
// cuLaunchKernel reads (a pointer to each argument: the buffers' device
// addresses in order, then begin and end).
struct CudaExecutor::Resolved {
  CUfunction function = nullptr;
  int64_t blocks = 0;
  int threads_per_block = 0;
  std::vector<CUdeviceptr> pointers;
  long long begin = 0, end = 0;
  std::vector<void*> arguments;
};

CudaExecutor::CudaExecutor(Program program, const CudaCode& code, int device)
    : driver_(CudaDriver::get()), program_(std::move(program)) {
  device_ = driver_.device(device);  // makes its primary context current

  // Everything that cannot run is refused before anything is allocated.
  std::unordered_map<std::string, const CudaKernel*> kernels;
  for (const CudaKernel& k : code.kernels) kernels[k.name] = &k;
  std::vector<std::string> library;
  for (const Launch& l : program_.launches) {
    if (l.kind == Launch::Kind::library) {
      library.push_back(fmt::format("{} ({})", l.function, l.node));
    } else if (!kernels.count(l.function)) {
      throw Error(fmt::format("the GPU code has no kernel '{}' for {}", l.function, describe(l)));
    }
  }
  if (!library.empty()) {
    throw Error(fmt::format("the program calls {} library function(s) that have no GPU implementation yet: {}",
                            library.size(), fmt::join(library, ", ")));
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
      driver_.check(from_ptx, fmt::format("loading the GPU code (the sm_{} cubin failed with {}; its PTX)", code.sm,
                                          cubin_error)
                                  .c_str());
    }
  }
  driver_.check(driver_.cuStreamCreate(&stream_, CU_STREAM_NON_BLOCKING), "cuStreamCreate");

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

  for (const Launch& l : program_.launches) {
    auto r = std::make_unique<Resolved>();
    const CudaKernel& k = *kernels.at(l.function);
    driver_.check(driver_.cuModuleGetFunction(&r->function, module_, k.name.c_str()),
                  fmt::format("finding GPU kernel '{}'", k.name).c_str());
    const int64_t threads = l.extent * k.threads_per_iteration;
    r->threads_per_block = k.block_threads;
    r->blocks = (threads + k.block_threads - 1) / k.block_threads;
    if (r->blocks > std::numeric_limits<int32_t>::max()) {
      throw Error(fmt::format("{} needs {} blocks, more than a grid holds", describe(l), r->blocks));
    }
    for (const BufferRef& b : l.buffers) r->pointers.push_back(address(b));
    r->begin = 0;
    r->end = l.extent;
    for (CUdeviceptr& p : r->pointers) r->arguments.push_back(&p);
    r->arguments.push_back(&r->begin);
    r->arguments.push_back(&r->end);
    resolved_.push_back(std::move(r));
  }
  seconds_.assign(program_.launches.size(), 0.0);
}

CudaExecutor::~CudaExecutor() {
  // Nothing can be reported from here; the context keeps working.
  if (stream_) driver_.cuStreamSynchronize(stream_);
  for (CUdeviceptr p : slots_) driver_.cuMemFree(p);
  if (arena_) driver_.cuMemFree(arena_);
  if (stream_) driver_.cuStreamDestroy(stream_);
  if (module_) driver_.cuModuleUnload(module_);
}

CUdeviceptr CudaExecutor::address(const BufferRef& ref) const {
  return (ref.slot < 0 ? arena_ : slots_.at(ref.slot)) + static_cast<CUdeviceptr>(ref.offset);
}

std::string CudaExecutor::describe(const Launch& l) const {
  return fmt::format("{} ({}, {})", l.node, l.op, l.source);
}

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
    CUresult launched = driver_.cuLaunchKernel(r.function, static_cast<unsigned>(r.blocks), 1, 1,
                                               static_cast<unsigned>(r.threads_per_block), 1, 1, 0, stream_,
                                               r.arguments.data(), nullptr);
    if (launched == CUDA_SUCCESS && (synchronous_ || profiling_)) launched = driver_.cuStreamSynchronize(stream_);
    if (launched != CUDA_SUCCESS) {
      const char* name = "an unknown error";
      driver_.cuGetErrorName(launched, &name);
      throw Error(fmt::format("GPU kernel {} for {} failed: {}", program_.launches[i].function,
                              describe(program_.launches[i]), name));
    }
    if (profiling_) {
      driver_.cuEventRecord(after, stream_);
      driver_.cuEventSynchronize(after);
      float milliseconds = 0;
      driver_.cuEventElapsedTime(&milliseconds, before, after);
      seconds_[i] += milliseconds / 1000.0;
    }
  }
  if (profiling_) {
    driver_.cuEventDestroy(before);
    driver_.cuEventDestroy(after);
  }
  driver_.check(driver_.cuStreamSynchronize(stream_),
                "the step on the GPU (run with synchronous launches to name the kernel)");
}

std::vector<CudaExecutor::LaunchShape> CudaExecutor::launch_shapes() const {
  std::vector<LaunchShape> out;
  for (const auto& r : resolved_) out.push_back({r->blocks, r->threads_per_block});
  return out;
}

}  // namespace reforge::runtime
