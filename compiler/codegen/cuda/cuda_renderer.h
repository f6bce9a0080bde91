// Kernel IR -> CUDA C++: a small printer beside the LLVM one
// (compiler/codegen/cpu/llvm_renderer.h). It follows the kernel's GPU
// schedule (gpu_schedule.h) and decides nothing about the mapping itself.
//
// One translation unit holds every kernel of a program, after the prelude
// and the GPU library's kernels (runtime/cuda_library_source.h). Each is
//   extern "C" __global__ void NAME(T0* out0, const T1* in1, ...,
//                                   long long begin, long long end)
// over iterations [begin, end) of its parallel loop, started with
// (end - begin) * threads_per_iteration threads.
//
// The same text compiles as host C++ when REFORGE_CUDA_ON_HOST is defined:
// a few lines of shim make blockIdx and threadIdx thread-local variables,
// and each kernel gets a host entry point reforge_host_NAME with the CPU
// kernels' ABI (buffers, begin, end) that walks the grid and the blocks in
// loops. That is how the GPU code's numbers are checked on a machine
// without a GPU (cuda_on_host.h).
#pragma once

#include <string>
#include <vector>

#include "compiler/kernel/kernel_ir.h"

namespace reforge::codegen {

// Without the library when the code will run the CPU library instead
// (cuda_on_host.h).
std::string render_cuda(const std::vector<kir::Kernel>& kernels, bool with_library = true);

// The helpers and host shim every translation unit starts with.
std::string cuda_prelude();

// The host entry point's symbol for kernel `name` (REFORGE_CUDA_ON_HOST).
std::string cuda_host_symbol(const std::string& name);

}  // namespace reforge::codegen
