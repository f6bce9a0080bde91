// Pass: each reader of a broadcast gets its own copy, placed just before it.
//
// A broadcast read by two kernels (a layer norm's statistics, read by
// the forward's product and again by its gradient) cannot join either
// kernel — fusion takes a producer into its only consumer — so it was
// stored at full size and kept alive from the forward to the backward
// (P1 at 64K: two [L, 256] broadcasts live at the step's peak, 128 MiB,
// and four [L, 512] ones saved for the head's backward). Copied per
// reader, each copy is read where it is made: elementwise and reduction
// readers compute it in their own loop and nothing is stored; only its
// small input stays alive in between. Copies for readers that cannot
// fuse it (a matmul) are stored, but just before they are read.
//
// Only broadcasts that at least double their input are copied, and not
// those the graph outputs. Runs on a graph without structured ops (after
// expansion); the values are unchanged.
#pragma once

#include <memory>

#include "compiler/ir/graph.h"

namespace reforge {

// `copied` (optional) receives the number of broadcasts given to their
// readers.
std::unique_ptr<Graph> rematerialise_broadcasts(const Graph& graph, int* copied = nullptr);

}  // namespace reforge
