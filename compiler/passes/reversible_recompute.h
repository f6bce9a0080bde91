// Reversible recompute: differentiate `reversible` blocks with the rule
// that rebuilds each block's input from its output instead of keeping it.
// The rule is the op's own (OpDef::reconstructing_vjp, written next to the
// op in ops/reversible_recompute.cc); this switches autodiff to it.
//
// For a block y1 = x1 + F(x2), y2 = x2 + G(y1), given its output (the
// forward value for the last block, the rebuilt one for the others) and
// the output cotangents dy1, dy2:
//   recompute G(y1);    dy1' = dy1 + G'(y1)^T dy2;   x2 = y2 - G(y1)
//   recompute F(x2);    dx2  = dy2 + F'(x2)^T dy1';  x1 = y1 - F(x2)
// and hands (x1, x2) to the previous block as its output. Only the last
// block's output and the integer decisions captured by F (LSH buckets) stay
// alive from the forward pass: activation memory does not grow with depth.
#pragma once

#include "compiler/autodiff/autodiff.h"

namespace reforge {

// `options` with every op's reconstructing rule in use.
AutodiffOptions with_reversible_recompute(AutodiffOptions options);

// How many nodes of `graph` have a reconstructing rule (reversible blocks).
int64_t reconstructing_blocks(const Graph& graph);

// `graph` with its last `count` reversible blocks (graph order: the last
// of the forward pass) expanded, so that autodiff differentiates their
// bodies and keeps their activations, as with reversible recompute off;
// the others still rebuild their inputs. Where memory allows, storing is
// cheaper than rebuilding (P1 at 1K: 46.5 against 52.1 GFLOP a step).
// Throws when the graph has fewer blocks.
std::unique_ptr<Graph> store_last_blocks(const Graph& graph, int64_t count);

}  // namespace reforge
