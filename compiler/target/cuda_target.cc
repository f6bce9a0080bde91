#include "compiler/target/cuda_target.h"

#include "compiler/passes/matmul_epilogue.h"
#include "compiler/passes/reduction_splitting.h"

namespace reforge {

std::vector<Pass> CudaTarget::backend_passes() const {
  return {{"matmul-epilogue", fuse_matmul_epilogues},
          {"split-column-reductions", split_column_reductions}};
}

const Target& cuda_target() {
  static const CudaTarget target;
  return target;
}

}  // namespace reforge
