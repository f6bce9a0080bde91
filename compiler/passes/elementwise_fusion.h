// Elementwise fusion grouping: marks which nodes become one loop nest for
// the code generators. A group is a tree rooted at an elementwise op or a
// reduction; its other members — elementwise ops (constants and iotas
// among them) and views (reshape, transpose, broadcast, slice, pad,
// concat of at most two parts) — have the shape the root reads (its
// output's, or a reduction's input's) and exactly one consumer, inside the
// group; or they are the producer of a view that reads each element of
// its input at most once (a slice, a transpose, a pad, a two-part
// concat), computed at the elements the view reads: a view of that kind,
// or an elementwise op when the view is inside an elementwise or
// reduction kernel. So a group may also be rooted at such a view, whose
// members are views (a slice transposed in one pass). Only the root's
// value leaves the kernel, so the other members never need memory of
// their own (a reduction recomputes them on each pass over its input). A producer
// joins only if no unfusable node is built between it and its consumer,
// so fusion never stretches an input's lifetime across other work.
//
// This is an analysis, not a rewrite: the graph is unchanged (its values
// trivially are too), and the memory planner and code generators read the
// grouping.
#pragma once

#include <vector>

#include "compiler/ir/graph.h"

namespace reforge {

struct FusionGroups {
  std::vector<int> group_of;             // node id -> group index, or -1
  std::vector<std::vector<int>> groups;  // members in node order; the root is last
};

FusionGroups group_elementwise(const Graph& graph);

// The shape at which a kernel rooted at `root` reads its members: its
// output's, or a reduction's input's.
const Shape& kernel_read_shape(const Graph& graph, int root);

}  // namespace reforge
