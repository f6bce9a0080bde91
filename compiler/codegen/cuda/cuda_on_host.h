// The CUDA back end's generated code run on the host: the rendered CUDA
// C++ compiled by the host's C++ compiler with REFORGE_CUDA_ON_HOST (grid
// and blocks become loops, cuda_renderer.h) into a shared object, loaded
// in this process. It is runtime::Code, so the CPU executor runs a whole
// program with it: the GPU kernels' numbers are checked against the
// interpreter on a machine without a GPU. Library calls (GEMM, fused
// attention) still run the CPU library's code.
//
// The host compiler is $REFORGE_HOST_CXX, else c++; it is asked not to
// contract a * b + c, as NVRTC is (nvrtc_compiler.h).
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compiler/kernel/kernel_ir.h"
#include "runtime/code.h"

namespace reforge::codegen {

class CudaOnHost : public runtime::Code {
 public:
  static std::unique_ptr<CudaOnHost> compile(const std::vector<kir::Kernel>& kernels);
  ~CudaOnHost() override;

  // Kernel `symbol`'s host entry point; null when there is no such kernel.
  runtime::KernelFunction find(const std::string& symbol) const override;
  const std::string& source() const { return source_; }

 private:
  CudaOnHost() = default;
  void* library_ = nullptr;
  std::string source_;
};

// The shared object of `source` (render_cuda's) built for the host, as
// bytes: what a stand-in driver loads in place of a cubin, so the GPU
// executor runs real kernels in tests without a GPU.
std::string build_cuda_for_host(const std::string& source);

}  // namespace reforge::codegen
