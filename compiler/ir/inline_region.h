// Copies a region's nodes into a parent graph, binding the region's `arg`
// nodes to given parent values. Used to expand structured ops (for their
// default gradient rules, and by passes that flatten them).
#pragma once

#include <vector>

#include "compiler/ir/graph.h"

namespace reforge {

// Returns the parent values that correspond to the region's outputs, in
// order. New nodes keep their op, attributes, type, source location and
// name (made unique; region names already carry the scope they were
// written in).
std::vector<Tensor> inline_region(Graph& parent, const Graph& region, const std::vector<Tensor>& args);

// The types of a region's arguments, by index; throws if an index is
// missing, repeated, or out of range.
std::vector<TensorType> region_arg_types(const Graph& region);

}  // namespace reforge
