#include "compiler/passes/matmul_epilogue.h"

#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

// The pieces of add(product, broadcast(bias)) that fuse, by node id.
struct BiasedProduct {
  int matmul = -1, reshape = -1, bias = -1;
};

}  // namespace

std::unique_ptr<Graph> fuse_matmul_bias(const Graph& graph) {
  const std::vector<int> readers = reader_counts(graph);

  // The add's operands as a product read only here and a broadcast row.
  auto match = [&](const Node& add) {
    BiasedProduct m;
    if (add.op != "add" || add.inputs.size() != 2) return m;
    for (int side = 0; side < 2; ++side) {
      int product = add.inputs[side];
      const Node& row = graph.node(add.inputs[1 - side]);
      if (row.op != "broadcast" || graph.node(row.inputs[0]).type.rank() != 1) continue;
      int reshape = -1;
      if (graph.node(product).op == "reshape" && readers[product] == 1) {
        reshape = product;
        product = graph.node(product).inputs[0];
      }
      const Node& mm = graph.node(product);
      if (mm.op != "matmul" || mm.type.rank() != 2 || readers[product] != 1) continue;
      const int64_t n = mm.type.shape[1];
      if (graph.node(row.inputs[0]).type.shape[0] != n || add.type.shape.back() != n) continue;
      if (graph.node(row.inputs[0]).type.dtype != mm.type.dtype) continue;
      return BiasedProduct{product, reshape, row.inputs[0]};
    }
    return BiasedProduct{};
  };

  return rewrite_graph(graph, [&](const Node& n, RewriteContext& c) {
    const BiasedProduct m = match(n);
    if (m.matmul < 0) return -1;
    Graph& out = c.out;
    const Node& mm = graph.node(m.matmul);
    // The matmul (and reshape) were copied when their turn came; read the
    // matmul's operands as mapped, so the copies are left unread.
    Tensor fused =
        out.add("matmul_bias",
                {out.value(c.mapped[mm.inputs[0]]), out.value(c.mapped[mm.inputs[1]]), out.value(c.mapped[m.bias])}, {},
                mm.loc);
    out.mutable_node(fused.id).role = n.role;
    int result = fused.id;
    if (m.reshape >= 0) {
      AttrMap shape;
      shape.set("shape", n.type.shape);
      result = out.add("reshape", {fused}, std::move(shape), n.loc).id;
      out.mutable_node(result).role = n.role;
    }
    out.mutable_node(result).name = n.name;  // the value it replaces, by name
    return result;
  });
}

}  // namespace reforge
