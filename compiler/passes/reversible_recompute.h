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

}  // namespace reforge
