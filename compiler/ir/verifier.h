// Checks that a graph is well formed: every input defined before use, no
// cycles, known ops with the right arity and attributes, recorded types
// equal to what each op's shape rule gives, unique names, valid outputs.
#pragma once

#include <optional>
#include <string>

#include "compiler/ir/graph.h"

namespace reforge {

// The first problem found, described for a person; nullopt when well formed.
std::optional<std::string> find_problem(const Graph& graph);

// Throws reforge::Error("malformed graph 'name': <problem>") if any.
void verify(const Graph& graph);

}  // namespace reforge
