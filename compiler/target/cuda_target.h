// The CUDA target: kernels rendered as CUDA C++ (compiler/codegen/cuda)
// and compiled by NVRTC for an NVIDIA GPU.
#pragma once

#include "compiler/target/target.h"

namespace reforge {

class CudaTarget : public Target {
 public:
  std::string name() const override { return "cuda"; }
  // The CPU's two rewrites, for the GPU's own reasons: a GEMM's epilogue
  // (bias, activation, residual) is what cuBLASLt fuses into its GEMMs,
  // and a column reduction split into row blocks gives a thread per block
  // instead of one thread per column walking the whole column.
  std::vector<Pass> backend_passes() const override;
  // The plain nests, a thread per output element or line, except short
  // argmax lines unrolled (cuda_target.cc says why).
  kir::ReductionSchedule reduction_schedule() const override;
  LibraryDevice library_device() const override { return LibraryDevice::cuda; }
};

// The one CUDA target (stateless).
const Target& cuda_target();

}  // namespace reforge
