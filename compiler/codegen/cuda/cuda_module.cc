#include "compiler/codegen/cuda/cuda_module.h"

#include <fmt/format.h>

#include <map>

#include "base/error.h"
#include "compiler/codegen/cuda/cuda_renderer.h"
#include "compiler/codegen/cuda/gpu_schedule.h"

namespace reforge::codegen {

runtime::CudaKernel cuda_kernel_entry(const kir::Kernel& kernel, int registers) {
  const GpuSchedule s = schedule_for_gpu(kernel);
  return {.name = kernel.name,
          .threads_per_iteration = s.threads_per_iteration,
          .block_threads = s.block_threads,
          .registers = registers};
}

runtime::CudaCode compile_cuda_code(const std::vector<kir::Kernel>& kernels, const NvrtcOptions& options) {
  CudaBinary binary = compile_cuda(render_cuda(kernels), options);
  std::map<std::string, int> registers;
  for (const KernelResources& r : binary.resources) registers[r.name] = r.registers;
  runtime::CudaCode code{.sm = binary.sm, .cubin = std::move(binary.cubin), .ptx = std::move(binary.ptx)};
  for (const kir::Kernel& k : kernels) {
    auto found = registers.find(k.name);
    if (found == registers.end()) throw Error(fmt::format("internal error: ptxas did not report kernel {}", k.name));
    code.kernels.push_back(cuda_kernel_entry(k, found->second));
  }
  return code;
}

}  // namespace reforge::codegen
