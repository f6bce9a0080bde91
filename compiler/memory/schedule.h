// The execution order of a graph's nodes. Nodes keep the order they were
// built in (already topological), except that nodes computed only from
// sources — constants, iotas, random draws, reshapes of parameters — are
// moved to just before their first use, so they are not live for long
// stretches of the program.
#pragma once

#include <vector>

#include "compiler/ir/graph.h"

namespace reforge {

// Node ids in execution order (every node exactly once).
std::vector<int> schedule_nodes(const Graph& graph);

}  // namespace reforge
