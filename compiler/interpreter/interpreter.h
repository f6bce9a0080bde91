// The reference interpreter: executes any graph with the ops' reference
// kernels. Slow and obviously correct; the oracle for passes and backends.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"
#include "compiler/ir/host_tensor.h"
#include "runtime/initializer.h"

namespace reforge {

using ValueMap = std::map<std::string, HostTensor>;

struct InterpreterOptions {
  // Compute f32 values at f64 precision (no rounding after each op): used
  // by gradient checks on graphs declared in f32.
  bool promote_f32_to_f64 = false;
};

// Evaluates the outputs of `graph`. `feeds` supplies every input, param and
// state node that an output needs, by node name; a missing or mistyped feed
// is an Error naming it. Returns outputs by name.
ValueMap run_graph(const Graph& graph, const ValueMap& feeds, const InterpreterOptions& options = {});

// Evaluates a region graph on positional arguments; returns its outputs.
std::vector<HostTensor> run_region(const Graph& region, std::vector<HostTensor> args,
                                   const InterpreterOptions& options = {});

// The value `feeds` holds for a fed node (input, param, state); an Error
// names the node when it is missing or of another type.
const HostTensor& fed_value(const Node& node, const ValueMap& feeds);

// Runs one node's reference kernel on its input values (regions are run
// by the interpreter) and rounds the result to the node's dtype.
HostTensor evaluate_node(const Node& node, const std::vector<const HostTensor*>& inputs,
                         const InterpreterOptions& options = {});

// Every param and state node of `graph`, in graph order, with how its
// `init` and `scale` attributes say it starts.
std::vector<runtime::PersistentInit> persistent_values(const Graph& graph);

// Initial values for every param and state node, from their `init`
// attributes, drawn deterministically from `seed` and the node's name.
ValueMap initial_values(const Graph& graph, uint64_t seed);

}  // namespace reforge
