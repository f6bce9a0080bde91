// Pass: expands structured ops (chunked_map, reversible, lsh_attention)
// into plain nodes, recursively, giving the same computation without regions. This is
// "the same model evaluated non-reversibly / unchunked": ordinary autodiff
// of the result stores every activation, which is what the Reformer passes
// are measured against.
#pragma once

#include <memory>
#include <set>
#include <string>

#include "compiler/ir/graph.h"

namespace reforge {

// Expands the structured ops named in `ops` (by default the Reformer's
// layer structure; the back ends expand every structured op).
std::unique_ptr<Graph> expand_structured(const Graph& graph,
                                         const std::set<std::string>& ops = {"chunked_map", "reversible"});

// Expands the nodes `ids` of `graph` (structured ops), once: structured
// ops their regions hold stay structured.
std::unique_ptr<Graph> expand_nodes(const Graph& graph, const std::set<int>& ids);

// Expands every structured op, repeating while expansion brings out more
// from their regions (a reversible block's chunked feed-forward): what
// the back ends run.
std::unique_ptr<Graph> expand_all_structured(const Graph& graph);

}  // namespace reforge
