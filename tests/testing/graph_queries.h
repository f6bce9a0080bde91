// What pass tests ask of a graph or of its memory plan.
#pragma once

#include <algorithm>
#include <cstdint>
#include <string>

#include "compiler/ir/graph.h"
#include "compiler/memory/memory_plan.h"

namespace reforge::testing {

// How many nodes of `graph` (not inside regions) are `op`.
inline int count_ops(const Graph& graph, const std::string& op) {
  int n = 0;
  for (int id = 0; id < graph.size(); ++id) n += graph.node(id).op == op;
  return n;
}

// The first node of `graph` that is `op`; -1 when none.
inline int find_op(const Graph& graph, const std::string& op) {
  for (int id = 0; id < graph.size(); ++id) {
    if (graph.node(id).op == op) return id;
  }
  return -1;
}

// The most elements any planned value holds (kernels' workspaces aside).
inline int64_t largest_value_elements(const MemoryPlan& plan) {
  int64_t largest = 0;
  for (const PlannedBuffer& b : plan.buffers) {
    if (b.kind != ValueKind::workspace) largest = std::max(largest, b.type.elements());
  }
  return largest;
}

}  // namespace reforge::testing
