#include "compiler/passes/algebraic_simplification.h"

#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

bool is_constant(const Graph& g, int id, double value) {
  const Node& n = g.node(id);
  return n.op == "constant" && n.attrs.get_float("value") == value;
}

// slice(concat(..., part, ...)) along the concat's axis, inside one part:
// that part, or the same slice of it. Reversible blocks stack their two
// streams (a concat) and the next block, or the backward, takes them
// apart again (slices); folded, neither copy is made.
int slice_of_concat(const Node& n, RewriteContext& c) {
  const Node& concat = c.out.node(c.inputs[0]);
  const int64_t axis = n.attrs.get_int("axis"), start = n.attrs.get_int("start"), end = n.attrs.get_int("end");
  if (concat.attrs.get_int("axis") != axis) return -1;
  int64_t offset = 0;
  for (int part : concat.inputs) {
    const int64_t length = c.out.node(part).type.shape.at(axis);
    if (start >= offset && end <= offset + length) {
      if (start == offset && end == offset + length) return part;
      int id = copy_node(c.out, n, {part});
      c.out.mutable_node(id).attrs.set("start", start - offset);
      c.out.mutable_node(id).attrs.set("end", end - offset);
      return id;
    }
    offset += length;
  }
  return -1;  // spans parts
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
  if (n.op == "slice" && g.node(in[0]).op == "concat") return slice_of_concat(n, c);
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
