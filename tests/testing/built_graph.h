// A test's graph together with the values to feed it.
#pragma once

#include <memory>

#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/graph.h"

namespace reforge::testing {

struct BuiltGraph {
  std::unique_ptr<Graph> graph;
  ValueMap feeds;
};

}  // namespace reforge::testing
