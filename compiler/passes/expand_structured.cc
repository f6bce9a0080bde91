#include "compiler/passes/expand_structured.h"

#include "compiler/dsl/dsl.h"
#include "compiler/ir/inline_region.h"
#include "compiler/passes/rewrite.h"
#include "ops/structured.h"

namespace reforge {
namespace {

Tensor expand_chunked_map(Graph& out, const Node& n, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> parts;
  for (int64_t k = 0; k < n.attrs.get_int("chunks"); ++k) {
    parts.push_back(inline_region(out, *n.regions[0], ops::chunk_arguments(n, inputs, k)).at(0));
  }
  return parts.size() == 1 ? parts[0] : concat(parts, n.attrs.get_int("axis"));
}

Tensor expand_reversible(Graph& out, const Node& n, const std::vector<Tensor>& inputs) {
  ops::ReversibleOutputs y = ops::inline_reversible(out, n, inputs);
  return stack_streams(y.y1, y.y2);
}

Tensor expand(Graph& out, const Node& n, const std::vector<Tensor>& inputs) {
  if (n.op == "reversible") return expand_reversible(out, n, inputs);
  if (n.op == "chunked_map") return expand_chunked_map(out, n, inputs);
  // Otherwise the region is the op's decomposition (lsh_attention).
  return inline_region(out, *n.regions.at(0), inputs).at(0);
}

}  // namespace

std::unique_ptr<Graph> expand_structured(const Graph& graph, const std::set<std::string>& ops) {
  std::unique_ptr<Graph> current = graph.clone();
  // Inlined bodies may hold structured nodes themselves: repeat until none.
  for (bool changed = true; changed;) {
    changed = false;
    current = rewrite_graph(*current, [&](const Node& n, RewriteContext& c) {
      if (!ops.count(n.op)) return -1;
      changed = true;
      std::vector<Tensor> inputs;
      for (int in : c.inputs) inputs.push_back(c.out.value(in));
      return expand(c.out, n, inputs).id;
    });
  }
  return current;
}

}  // namespace reforge
