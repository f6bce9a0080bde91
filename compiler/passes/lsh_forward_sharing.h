// Passes: an LSH-attention gradient shares its forward.
//
// In a reversible block's backward, attention runs twice on the same
// operands: lsh_attention_fused rebuilds the block's input
// (x1 = y1 - F(x2)), and lsh_attention_fused_grad gives its gradient — and
// the gradient kernel runs the forward itself, for the per-slot outputs and
// logsumexps its backward needs. This pass has the gradient also write the
// combined result (attribute with_output: [dq | dv | result] along the
// last axis) and feeds the recompute's users from that, so the backward
// runs attention's forward once instead of twice (P1 at 4K: 6 of 18
// forward passes a step).
//
// A pair is shared only when the gradient's cotangent does not depend on
// the recompute. The recompute's users move to just after the gradient;
// every other node keeps its place, so the memory plan's order is the
// same. Runs on a graph without structured ops (after expansion).
#pragma once

#include <memory>

#include "compiler/ir/graph.h"

namespace reforge {

// `shared` (optional) receives the number of forward ops replaced.
std::unique_ptr<Graph> share_lsh_forward(const Graph& graph, int* shared = nullptr);

// The other half: a gradient whose forward twin ran in the forward pass
// (a block that stores its activations, whose cotangent depends on that
// forward) reads the twin's output as one more input, where its op can
// (OpDef::reads_forward_result), instead of running the forward again.
// The twin then writes what the gradient needs besides the result
// (OpDef::forward_extra_attr: the LSH forward's rows become [result |
// each round's logsumexp]), and its other readers take the result's
// columns through a slice. The LSH gradient then runs no forward at all:
// two of its seven chunk products less. A target whose kernels do this
// runs the pass (the CPU's; the CUDA kernels run the forward themselves).
// Run after share_lsh_forward. `given` (optional) receives the number of
// gradients given their forward.
std::unique_ptr<Graph> give_lsh_gradients_their_forward(const Graph& graph, int* given = nullptr);

}  // namespace reforge
