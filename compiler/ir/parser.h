// Reads the textual IR (see printer.h) back into a Graph. Syntax errors
// throw reforge::Error with the line number; semantic problems (types,
// cycles, unknown ops) are left for the verifier, so that malformed graphs
// can be written as text in tests.
#pragma once

#include <memory>
#include <string_view>

#include "compiler/ir/graph.h"

namespace reforge {

std::unique_ptr<Graph> parse_graph(std::string_view text);

}  // namespace reforge
