// Liveness: for each value, the schedule steps at which it is written and
// last read. Graph outputs live to the end of the program.
#pragma once

#include <vector>

#include "compiler/ir/graph.h"

namespace reforge {

struct LiveInterval {
  int first = -1;  // step that writes the value
  int last = -1;   // last step that reads it (first, if nothing does)
};

// Indexed by node id; `schedule` lists node ids in execution order.
// `executed_with` (optional, by node id) names the node whose step really
// computes each node: a member of a fused kernel runs, and reads its
// inputs, when the kernel's root does.
std::vector<LiveInterval> compute_liveness(const Graph& graph, const std::vector<int>& schedule,
                                           const std::vector<int>* executed_with = nullptr);

}  // namespace reforge
