#include "compiler/passes/algebraic_simplification.h"

#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

bool is_constant(const Graph& g, int id, double value) {
  const Node& n = g.node(id);
  return n.op == "constant" && n.attrs.get_float("value") == value;
}

int simplify(const Node& n, RewriteContext& c) {
  const Graph& g = c.out;
  const std::vector<int>& in = c.inputs;
  if (in.size() == 1 && n.def && n.def->is_identity && n.def->is_identity(n, g.node(in[0]).type)) return in[0];
  if (n.op == "reshape" && g.node(in[0]).op == "reshape") {
    int x = g.node(in[0]).inputs[0];
    if (g.node(x).type == n.type) return x;  // reshape(reshape(x)) back to x's shape -> x
    return copy_node(c.out, n, {x});         // reshape(reshape(x)) -> reshape(x)
  }
  if (n.op == "neg" && g.node(in[0]).op == "neg") return g.node(in[0]).inputs[0];
  if (in.size() == 2) {
    if ((n.op == "add" || n.op == "sub") && is_constant(g, in[1], 0.0)) return in[0];
    if (n.op == "add" && is_constant(g, in[0], 0.0)) return in[1];
    if ((n.op == "mul" || n.op == "div") && is_constant(g, in[1], 1.0)) return in[0];
    if (n.op == "mul" && is_constant(g, in[0], 1.0)) return in[1];
  }
  return -1;
}

}  // namespace

std::unique_ptr<Graph> simplify_algebra(const Graph& graph) {
  std::unique_ptr<Graph> out = rewrite_graph(graph, simplify);
  rewrite_regions(*out, simplify_algebra);
  return out;
}

}  // namespace reforge
