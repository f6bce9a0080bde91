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
std::vector<LiveInterval> compute_liveness(const Graph& graph, const std::vector<int>& schedule);

}  // namespace reforge
