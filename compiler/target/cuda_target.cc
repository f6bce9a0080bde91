#include "compiler/target/cuda_target.h"

#include "compiler/passes/matmul_epilogue.h"
#include "compiler/passes/reduction_splitting.h"

namespace reforge {
namespace {

// Narrower column reductions are split into row blocks: a thread per
// (block, column). Wider ones have a thread per column enough.
constexpr int64_t kSplitColumnsUpTo = 4096;

}  // namespace

std::vector<Pass> CudaTarget::backend_passes() const {
  return {{"matmul-epilogue", fuse_matmul_epilogues},
          {"split-column-reductions", [](const Graph& graph) {
             return split_column_reductions(graph, kSplitColumnsUpTo);
           }}};
}

// The GPU schedule puts the parallel loop nest onto the grid, a thread per
// iteration. The CPU's row-by-row reduction would leave only the kept outer
// coordinates parallel — one thread for a bias gradient — where the plain
// nest has a thread per output column; the lanes of the CPU's argmax are
// its vector registers, which a GPU thread does not have. Unrolling a short
// argmax line still saves each element's index arithmetic.
kir::ReductionSchedule CudaTarget::reduction_schedule() const { return {.argmax_unrolled_max = 64}; }

const Target& cuda_target() {
  static const CudaTarget target;
  return target;
}

}  // namespace reforge
