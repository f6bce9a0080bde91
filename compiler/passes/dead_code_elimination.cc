#include "compiler/passes/dead_code_elimination.h"

#include "compiler/passes/rewrite.h"

namespace reforge {

std::unique_ptr<Graph> eliminate_dead_code(const Graph& graph) {
  std::vector<bool> live(graph.size(), false);
  for (const auto& [name, id] : graph.outputs()) live[id] = true;
  for (int id = graph.size() - 1; id >= 0; --id) {
    const Node& n = graph.node(id);
    if (is_source(n)) live[id] = true;  // fed values, and a region's arguments (its signature)
    if (!live[id]) continue;
    for (int in : n.inputs) live[in] = true;
  }
  std::unique_ptr<Graph> out = rewrite_graph(
      graph, [](const Node&, RewriteContext&) { return -1; }, &live);
  rewrite_regions(*out, eliminate_dead_code);
  return out;
}

}  // namespace reforge
