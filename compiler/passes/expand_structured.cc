#include "compiler/passes/expand_structured.h"

#include "compiler/dsl/dsl.h"
#include "compiler/ir/inline_region.h"
#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

Tensor expand_chunked_map(Graph& out, const Node& n, const std::vector<Tensor>& inputs) {
  int64_t axis = n.attrs.get_int("axis"), chunks = n.attrs.get_int("chunks"), sliced = n.attrs.get_int("sliced");
  std::vector<Tensor> parts;
  for (int64_t k = 0; k < chunks; ++k) {
    std::vector<Tensor> args;
    for (size_t i = 0; i < inputs.size(); ++i) {
      Tensor x = inputs[i];
      if (static_cast<int64_t>(i) < sliced) {
        int64_t len = x.dim(axis) / chunks;
        args.push_back(slice(x, axis, k * len, (k + 1) * len));
      } else {
        args.push_back(x);
      }
    }
    parts.push_back(inline_region(out, *n.regions[0], args).at(0));
  }
  return parts.size() == 1 ? parts[0] : concat(parts, axis);
}

Tensor expand_reversible(Graph& out, const Node& n, const std::vector<Tensor>& inputs) {
  int64_t f_captures = n.attrs.get_int("f_captures");
  Tensor x1 = stream(inputs[0], 0), x2 = stream(inputs[0], 1);
  std::vector<Tensor> f_args{x2};
  f_args.insert(f_args.end(), inputs.begin() + 1, inputs.begin() + 1 + f_captures);
  Tensor y1 = x1 + inline_region(out, *n.regions[0], f_args).at(0);
  std::vector<Tensor> g_args{y1};
  g_args.insert(g_args.end(), inputs.begin() + 1 + f_captures, inputs.end());
  Tensor y2 = x2 + inline_region(out, *n.regions[1], g_args).at(0);
  return stack_streams(y1, y2);
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
      Tensor result = n.op == "reversible" ? expand_reversible(c.out, n, inputs) : expand_chunked_map(c.out, n, inputs);
      return result.id;
    });
  }
  return current;
}

}  // namespace reforge
