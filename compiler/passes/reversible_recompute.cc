#include "compiler/passes/reversible_recompute.h"

#include <fmt/format.h>

#include <set>

#include "compiler/passes/expand_structured.h"

namespace reforge {

int64_t reconstructing_blocks(const Graph& graph) {
  int64_t blocks = 0;
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    if (n.def && n.def->reconstructing_vjp) ++blocks;
  }
  return blocks;
}

AutodiffOptions with_reversible_recompute(AutodiffOptions options) {
  options.reconstruct_inputs = true;
  return options;
}

std::unique_ptr<Graph> store_last_blocks(const Graph& graph, int64_t count) {
  const int64_t blocks = reconstructing_blocks(graph);
  if (count < 0 || count > blocks) {
    throw Error(fmt::format("cannot store the activations of {} reversible blocks: the model has {}", count, blocks));
  }
  std::set<int> last;
  for (int id = graph.size() - 1; id >= 0 && static_cast<int64_t>(last.size()) < count; --id) {
    const Node& n = graph.node(id);
    if (n.def && n.def->reconstructing_vjp) last.insert(id);
  }
  return last.empty() ? graph.clone() : expand_nodes(graph, last);
}

}  // namespace reforge
