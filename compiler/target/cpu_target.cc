#include "compiler/target/cpu_target.h"

#include "compiler/passes/lsh_forward_sharing.h"
#include "compiler/passes/matmul_epilogue.h"
#include "compiler/passes/reduction_splitting.h"

namespace reforge {

std::vector<Pass> CpuTarget::backend_passes() const {
  return {{"lsh-gradient-reads-forward", [](const Graph& graph) { return give_lsh_gradients_their_forward(graph); }},
          {"matmul-epilogue", fuse_matmul_epilogues},
          {"split-column-reductions", [this](const Graph& graph) {
             return split_column_reductions(graph, reduction_schedule().rows_into_row_max);
           }}};
}

kir::ReductionSchedule CpuTarget::reduction_schedule() const {
  return {
      // A bias gradient (the sum over the rows of [N, M]) row by row, adding
      // whole rows into the output row: every read streams. Column by
      // column, the plain form strides by a row per element: 0.35 GB/s on
      // [32768, 1024] in kernel_bench, against 37 GB/s this way. Splitting
      // the row between threads instead halves the streams the prefetcher
      // sees and ran at 29 GB/s on two. Up to 4096 elements the output row
      // stays in L1.
      .rows_into_row_max = 4096,
      // Eight input rows added in one expression per pass over the output
      // row: it is loaded and stored once per 8 rows (a store per row, 4 KiB
      // from the next row's loads, stalls on false dependencies: 21 GB/s).
      .rows_per_pass = 8,
      // A short argmax line (LSH hashing: over 2 x 16 rotations) unrolled:
      // its reads through a concat of parts become plain loads, and
      // consecutive lines' compare chains overlap. As a loop, each element
      // cost index arithmetic and a load from every part (10.8 GB/s at 64K
      // tokens).
      .argmax_unrolled_max = 64,
      // Along an outer axis (LSH hashing: the rotations computed positions
      // innermost), up to 2 x 128 rotations: each element one vector
      // compare over several positions, in 8 independent chains.
      .argmax_outer_chains = 8,
      .argmax_outer_max = 256,
      // Longer ones along the innermost axis in 16 lanes: each lane's update
      // one vector instruction over contiguous loads, the loop over lines
      // scalar (vectorised across lines every load was a gather); the
      // hashing's 2 x 64 rotations at 4K tokens, while they were computed
      // positions outermost: 3.3 -> 1.5 ms a layer.
      .argmax_lanes = 16,
      .argmax_lanes_max = 256,
  };
}

const Target& cpu_target() {
  static const CpuTarget target;
  return target;
}

}  // namespace reforge
