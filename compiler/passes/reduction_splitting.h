// Pass: a column reduction over many rows runs in row blocks, in parallel.
//
// A reduction that keeps only the last axis (a bias gradient: the sum of
// [N, M] over its N rows) walks its input row by row, and its kernel's one
// parallel loop is over the kept outer coordinates: here none, so one
// thread did all the work (splitting each row between threads halved what
// the prefetchers saw and was slower). Split, it becomes
//   reduce(reshape(x, [P, N/P, M]), axis 1) -> [P, M]   P row blocks, parallel
//   reduce(that, axis 0)                    -> [M]      P rows, small
// with P = kReductionParts, fixed, so every thread count sums in the same
// order. The sum's order changes (block by block, then the blocks), so the
// bits differ from the unsplit reduction's; a max is unchanged.
//
// Only where the input is stored anyway: an elementwise or view producer
// that only this reduction reads is computed inside its loop, which the
// reshape would prevent (the input would then be stored: more memory and
// traffic). Runs on a graph without structured ops (after expansion).
#pragma once

#include <cstdint>
#include <memory>

#include "compiler/ir/graph.h"

namespace reforge {

inline constexpr int64_t kReductionParts = 8;

// Splits reductions whose kept row has at most `max_width` elements (the
// CPU's: where its row-by-row form runs, kir::ReductionSchedule).
std::unique_ptr<Graph> split_column_reductions(const Graph& graph, int64_t max_width);

}  // namespace reforge
