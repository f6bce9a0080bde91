// Kernel grouping: which node's kernel computes each node, as the memory
// planner and the lowering take it (KernelGrouping, memory_plan.h). Three
// decisions, in order:
//   1. elementwise fusion groups (elementwise_fusion.h), rooted at an
//      elementwise op or a reduction;
//   2. a kernel read only by one other kernel, element for element, is
//      computed there: not stored at all when it is no graph output (a
//      value read by two members of one kernel), stored from there when
//      it is (multi-output kernels: Adam's moments with their
//      parameter's update);
//   3. operand absorption: a library op takes a producer it reads through
//      an operand flag (the transpose feeding a GEMM), unless that
//      producer's kernel reads another view (a slice) in it.
#pragma once

#include "compiler/ir/graph.h"
#include "compiler/memory/memory_plan.h"

namespace reforge {

// With `elementwise_fusion` false every node is its own kernel.
KernelGrouping kernel_grouping(const Graph& graph, bool elementwise_fusion);

}  // namespace reforge
