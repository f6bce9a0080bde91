// A program's kernels as a CUDA artifact's code (runtime::CudaCode): the
// CUDA C++ rendered, compiled by NVRTC for one GPU architecture (cubin and
// PTX), and for each kernel how a launch starts it (its GPU schedule) and
// the registers ptxas gave it.
#pragma once

#include <vector>

#include "compiler/codegen/cuda/nvrtc_compiler.h"
#include "compiler/kernel/kernel_ir.h"
#include "runtime/artifact.h"

namespace reforge::codegen {

// How a launch of `kernel` starts (its GPU schedule), with ptxas's
// register count.
runtime::CudaKernel cuda_kernel_entry(const kir::Kernel& kernel, int registers);

runtime::CudaCode compile_cuda_code(const std::vector<kir::Kernel>& kernels, const NvrtcOptions& options = {});

}  // namespace reforge::codegen
