// Pass: removes nodes no output needs. Sources (input, param, state) stay:
// they are the graph's interface.
#pragma once

#include <memory>

#include "compiler/ir/graph.h"

namespace reforge {

std::unique_ptr<Graph> eliminate_dead_code(const Graph& graph);

}  // namespace reforge
