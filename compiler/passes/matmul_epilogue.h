// Pass: a bias added to a matmul's result goes into the GEMM's epilogue.
//
//   add(matmul(x, w), broadcast(b))            x [m, k], w [k, n], b [n]
//   add(reshape(matmul(x, w)), broadcast(b))   (a linear layer's leading axes)
// become matmul_bias(x, w, b) (then the reshape): the GEMM adds b to each
// block of C as it finishes it, while the block is in cache, instead of a
// separate kernel reading and writing the whole product again. Applies
// when the product is read only by the addition (directly or through the
// one reshape) and the graph does not output it. The value is unchanged
// bit for bit: the product, then the addition (tests/passes/
// matmul_epilogue_test). Runs on a graph without structured ops, after
// differentiation (matmul_bias has no gradient rule).
#pragma once

#include <memory>

#include "compiler/ir/graph.h"

namespace reforge {

std::unique_ptr<Graph> fuse_matmul_bias(const Graph& graph);

}  // namespace reforge
