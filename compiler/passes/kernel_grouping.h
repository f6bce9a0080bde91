// Kernel grouping: which node's kernel computes each node, as the memory
// planner and the lowering take it (KernelGrouping, memory_plan.h). Three
// decisions, in order:
//   1. elementwise fusion groups (elementwise_fusion.h), rooted at an
//      elementwise op or a reduction;
//   2. multi-output kernels: a kernel read only by one other same-shape
//      elementwise kernel is computed there and stored from there (Adam's
//      moments with their parameter's update);
//   3. operand absorption: a library op takes a producer it reads through
//      an operand flag (the transpose feeding a GEMM).
#pragma once

#include "compiler/ir/graph.h"
#include "compiler/memory/memory_plan.h"

namespace reforge {

// With `elementwise_fusion` false every node is its own kernel.
KernelGrouping kernel_grouping(const Graph& graph, bool elementwise_fusion);

}  // namespace reforge
