#include "compiler/passes/expand_structured.h"

#include "compiler/passes/rewrite.h"

namespace reforge {

std::unique_ptr<Graph> expand_structured(const Graph& graph, const std::set<std::string>& ops) {
  std::unique_ptr<Graph> current = graph.clone();
  // Inlined bodies may hold structured nodes themselves: repeat until none.
  for (bool changed = true; changed;) {
    changed = false;
    current = rewrite_graph(*current, [&](const Node& n, RewriteContext& c) {
      if (!ops.count(n.op) || !n.def || !n.def->expand) return -1;
      changed = true;
      std::vector<Tensor> inputs;
      for (int in : c.inputs) inputs.push_back(c.out.value(in));
      return n.def->expand(c.out, n, inputs).id;  // inherits the node's role (rewrite_graph)
    });
  }
  return current;
}

std::unique_ptr<Graph> expand_nodes(const Graph& graph, const std::set<int>& ids) {
  return rewrite_graph(graph, [&](const Node& n, RewriteContext& c) {
    if (!ids.count(c.id) || !n.def || !n.def->expand) return -1;
    std::vector<Tensor> inputs;
    for (int in : c.inputs) inputs.push_back(c.out.value(in));
    return n.def->expand(c.out, n, inputs).id;
  });
}

std::unique_ptr<Graph> expand_all_structured(const Graph& graph) {
  std::unique_ptr<Graph> expanded = graph.clone();
  while (true) {
    std::set<std::string> structured;
    for (int id = 0; id < expanded->size(); ++id) {
      const Node& n = expanded->node(id);
      if (n.def && n.def->kind == OpKind::structured) structured.insert(n.op);
    }
    if (structured.empty()) return expanded;
    expanded = expand_structured(*expanded, structured);
  }
}

}  // namespace reforge
