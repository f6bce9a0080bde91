// Pass: what a matmul's result goes through next goes into the GEMM's
// epilogue, applied to each block of C right after its last product while
// the block is in cache, instead of a separate kernel reading and writing
// the whole product again. In order:
//
//   add(P, broadcast(b))      b [n]                -> bias      (the FF's and head's biases)
//   gelu(P), relu(P)                               -> activation (the FF's first layer)
//   add(P, r), add(r, P)      r of the add's shape -> residual  (a residual stream + a projection)
//
// where P is a 2-D matmul, or a matmul_epilogue without those later
// stages yet, directly or through one reshape (a linear layer's leading
// axes), read only there and not a graph output. The result is one
// matmul_epilogue (then the reshape). Values are unchanged: the same
// operations in the same order (the activation runs the op's own
// generated code; tests/passes/matmul_epilogue_test). Runs on a graph
// without structured ops, after differentiation (matmul_epilogue has no
// gradient rule).
#pragma once

#include <memory>

#include "compiler/ir/graph.h"

namespace reforge {

std::unique_ptr<Graph> fuse_matmul_epilogues(const Graph& graph);

}  // namespace reforge
