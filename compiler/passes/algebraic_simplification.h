// Pass: local algebraic identities that are exact in floating point:
// identity reshapes/transposes/broadcasts/slices/casts, reshape of reshape,
// a slice of a concat inside one part (that part, or its slice),
// x + 0, x - 0, x * 1, x / 1, -(-x). Each is its op's own rule, which the
// pass asks for (OpDef: is_identity, left_identity and right_identity
// against a uniform_value, fold), never an op's name.
//
// Deliberately absent: cancellations such as (a + b) - b -> a. They are
// not exact in floating point, and folding the reversible reconstruction
// x2 = (x2 + G(y1)) - G(y1) back into x2 would keep the forward activation
// alive and undo reversible recompute.
#pragma once

#include <memory>

#include "compiler/ir/graph.h"

namespace reforge {

std::unique_ptr<Graph> simplify_algebra(const Graph& graph);

}  // namespace reforge
