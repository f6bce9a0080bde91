// Pass: an LSH-attention gradient shares its forward.
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

}  // namespace reforge
