// Pass: each reader of a shared view gets its own copy, made just before it.
//
// Two kinds of view cost nothing when their one reader computes them,
// and a buffer when they are shared:
// - a broadcast read by several kernels (a layer norm's statistics, read
//   by the forward's product and again by its gradient) cannot join
//   either kernel — fusion takes a producer into its only consumer — so
//   it was stored at full size and kept from the forward to the backward
//   (P1 at 64K: two [L, 256] broadcasts live at the step's peak, 128 MiB,
//   and two [L, 512] ones saved for the head's backward). Copied per
//   reader, elementwise and reduction readers compute it in their own
//   loop; only its small input stays alive in between.
// - a transpose of the last two axes read by several matmuls (x^T in the
//   weight gradients of the query and value projections) is absorbed by
//   none of them — a GEMM reads a transposed operand in place only when it
//   is the operand's one reader — so it was written out by an element-by-
//   element transpose kernel (8 GB/s). Copied per matmul, each reads it
//   in place.
// - a slice read by several elementwise ops, reductions or concats (LSH hashing with
//   two bucket factors: argmax(concat(part, -part)) reads each factor's
//   part twice) was stored; copied, the kernel that reads both computes
//   it where it reads it (P1 at 64K: 94 ms a step of slice kernels).
// Copies for readers that cannot use them so are stored, but just before
// they are read.
//
// Broadcasts are copied when they at least double their input; transposes
// when every reader is a matmul that reads them in place; slices when
// every reader is elementwise, a reduction or a concat; none when the
// graph outputs them. Runs on a graph without structured ops (after
// expansion); the values are unchanged.
#pragma once

#include <memory>

#include "compiler/ir/graph.h"

namespace reforge {

// `copied` (optional) receives the number of views given to their readers.
std::unique_ptr<Graph> rematerialise_shared_views(const Graph& graph, int* copied = nullptr);

}  // namespace reforge
