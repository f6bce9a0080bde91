#include "compiler/target/cpu_target.h"

#include "compiler/passes/matmul_epilogue.h"
#include "compiler/passes/reduction_splitting.h"

namespace reforge {

std::vector<Pass> CpuTarget::backend_passes() const {
  return {{"matmul-epilogue", fuse_matmul_epilogues},
          {"split-column-reductions", split_column_reductions}};
}

const Target& cpu_target() {
  static const CpuTarget target;
  return target;
}

}  // namespace reforge
