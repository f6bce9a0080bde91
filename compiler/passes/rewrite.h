// The one way passes rebuild a graph: walk it in order, and for each node
// either copy it (with its inputs remapped) or replace it by a value that
// already exists in the new graph (possibly one the callback just built).
// Names are preserved, so feeds and outputs keep working across passes:
// nodes the callback builds get the replaced node's source line, its role,
// and — the one it returns — its name; passes do not patch them by hand.
#pragma once

#include <functional>
#include <memory>
#include <vector>

#include "compiler/ir/graph.h"

namespace reforge {

struct RewriteContext {
  Graph& out;                      // the graph being built
  const std::vector<int>& mapped;  // old id -> new id, for nodes seen so far
  std::vector<int> inputs;         // this node's inputs, already mapped
  int id = -1;                     // this node's id in the old graph
};

// Returns the new-graph id that replaces `node`, or -1 to copy it.
using RewriteFn = std::function<int(const Node& node, RewriteContext& context)>;

// `keep[id] == false` drops a node (its users must have been replaced).
std::unique_ptr<Graph> rewrite_graph(const Graph& graph, const RewriteFn& replace,
                                     const std::vector<bool>* keep = nullptr);

// Appends a copy of `node` to `out` with the given inputs; returns its id.
int copy_node(Graph& out, const Node& node, std::vector<int> inputs);

// Replaces every region of every node of `graph` by `pass` applied to it.
// Passes call this on their result, so they reach into regions at any
// depth (regions are closed graphs: each is optimised on its own).
void rewrite_regions(Graph& graph, const std::function<std::unique_ptr<Graph>(const Graph&)>& pass);

}  // namespace reforge
