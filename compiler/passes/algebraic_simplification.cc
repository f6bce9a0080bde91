#include "compiler/passes/algebraic_simplification.h"

#include <numeric>

#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

bool is_constant(const Graph& g, int id, double value) {
  const Node& n = g.node(id);
  return n.op == "constant" && n.attrs.get_float("value") == value;
}

bool is_identity_layout(const Node& n, const TensorType& input) {
  if (n.op == "reshape" || n.op == "broadcast" || n.op == "slice" || n.op == "cast") return n.type == input;
  if (n.op == "transpose") {
    const auto& perm = n.attrs.get_ints("perm");
    std::vector<int64_t> identity(perm.size());
    std::iota(identity.begin(), identity.end(), 0);
    return perm == identity;
  }
  return false;
}

int simplify(const Node& n, RewriteContext& c) {
  const Graph& g = c.out;
  const std::vector<int>& in = c.inputs;
  if (in.size() == 1 && is_identity_layout(n, g.node(in[0]).type)) return in[0];
  if (n.op == "reshape" && g.node(in[0]).op == "reshape") {
    return copy_node(c.out, n, {g.node(in[0]).inputs[0]});  // reshape(reshape(x)) -> reshape(x)
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

std::unique_ptr<Graph> simplify_algebra(const Graph& graph) { return rewrite_graph(graph, simplify); }

}  // namespace reforge
