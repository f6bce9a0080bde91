#include "compiler/passes/matmul_epilogue.h"

#include "compiler/passes/dead_code_elimination.h"
#include "compiler/passes/rewrite.h"
#include "runtime/library_calls.h"

namespace reforge {
namespace {

// The epilogue stages, in the order the GEMM applies them.
enum class Stage { bias, activation, residual };

// A product an epilogue stage can extend: a 2-D matmul or matmul_epilogue
// (`product`), read only by `reshape` when that is not -1, which is read
// only by the consumer.
struct Product {
  int product = -1, reshape = -1;
};

// The stages a product already has (a plain matmul has none of these
// attributes).
bool has_bias(const Node& p) { return p.attrs.get_int_or("bias", 0) != 0; }
std::string activation_of(const Node& p) { return p.attrs.has("activation") ? p.attrs.get_string("activation") : ""; }
bool has_activation(const Node& p) { return !activation_of(p).empty(); }
bool has_residual(const Node& p) { return p.attrs.get_int_or("residual", 0) != 0; }

EpilogueStage stage_of(const Node& n) { return n.def ? n.def->epilogue_stage : EpilogueStage::none; }
bool repeats_a_row(const Graph& graph, const Node& n) {
  return n.def && n.def->repeats_input && graph.node(n.inputs[0]).type.rank() == 1;
}

// Node `id` as a product that `stage` may be added to.
Product product_at(const Graph& graph, const std::vector<int>& readers, int id, Stage stage) {
  Product p;
  if (readers[id] != 1) return p;
  if (graph.node(id).def && graph.node(id).def->reinterprets_input) {
    p.reshape = id;
    id = graph.node(id).inputs[0];
    if (readers[id] != 1) return {};
  }
  const Node& n = graph.node(id);
  if (n.type.rank() != 2 || !n.def || !n.def->gemm) return {};
  // A later stage already there: this one would come after it.
  if (has_residual(n) || (stage <= Stage::activation && has_activation(n)) || (stage == Stage::bias && has_bias(n))) {
    return {};
  }
  p.product = id;
  return p;
}

// What one consumer adds to its product: the stage, and its operand (the
// bias vector or the residual; -1 for an activation).
struct Match {
  Product product;
  int operand = -1;
  std::string activation;
};

Match match_bias(const Graph& graph, const std::vector<int>& readers, const Node& add) {
  if (stage_of(add) != EpilogueStage::add || add.inputs.size() != 2) return {};
  for (int side = 0; side < 2; ++side) {
    const Node& row = graph.node(add.inputs[1 - side]);
    if (!repeats_a_row(graph, row)) continue;
    Product p = product_at(graph, readers, add.inputs[side], Stage::bias);
    if (p.product < 0) continue;
    const TensorType& bias = graph.node(row.inputs[0]).type;
    const int64_t n = graph.node(p.product).type.shape[1];
    if (bias.shape[0] != n || add.type.shape.back() != n || bias.dtype != add.type.dtype) continue;
    return {p, row.inputs[0], ""};
  }
  return {};
}

Match match_activation(const Graph& graph, const std::vector<int>& readers, const Node& act) {
  if (stage_of(act) != EpilogueStage::activation || act.inputs.size() != 1) return {};
  Product p = product_at(graph, readers, act.inputs[0], Stage::activation);
  if (p.product < 0) return {};
  return {p, -1, act.op};
}

Match match_residual(const Graph& graph, const std::vector<int>& readers, const Node& add) {
  if (stage_of(add) != EpilogueStage::add || add.inputs.size() != 2 || add.inputs[0] == add.inputs[1]) return {};
  for (int side = 0; side < 2; ++side) {
    const Node& other = graph.node(add.inputs[1 - side]);
    // A broadcast would have to be written out as a full [m, n] buffer.
    if ((other.def && other.def->repeats_input) || other.type != add.type) continue;
    Product p = product_at(graph, readers, add.inputs[side], Stage::residual);
    if (p.product < 0) continue;
    return {p, add.inputs[1 - side], ""};
  }
  return {};
}

// One stage over the whole graph: each match becomes a matmul_epilogue
// with the stage added.
std::unique_ptr<Graph> fuse_stage(const Graph& graph, Stage stage) {
  const std::vector<int> readers = reader_counts(graph);
  return rewrite_graph(graph, [&](const Node& n, RewriteContext& c) {
    const Match m = stage == Stage::bias         ? match_bias(graph, readers, n)
                    : stage == Stage::activation ? match_activation(graph, readers, n)
                                                 : match_residual(graph, readers, n);
    if (m.product.product < 0) return -1;
    Graph& out = c.out;
    const Node& mm = graph.node(m.product.product);
    // The product (and reshape) were copied when their turn came; read
    // their operands as mapped, so the copies are left unread.
    AttrMap attrs;
    attrs.set("bias", has_bias(mm) ? int64_t{1} : int64_t{0});
    attrs.set("activation", activation_of(mm));
    attrs.set("residual", int64_t{0});
    std::vector<Tensor> inputs;
    for (int in : mm.inputs) inputs.push_back(out.value(c.mapped[in]));
    switch (stage) {
      case Stage::bias: {
        attrs.set("bias", int64_t{1});
        const runtime::MatmulEpilogueCall layout{.bias = true, .residual = attrs.get_int("residual") != 0};
        inputs.insert(inputs.begin() + layout.bias_buffer(), out.value(c.mapped[m.operand]));
        break;
      }
      case Stage::activation:
        attrs.set("activation", m.activation);
        break;
      case Stage::residual: {
        Tensor residual = out.value(c.mapped[m.operand]);
        if (residual.type().shape != mm.type.shape) {
          AttrMap shape;
          shape.set("shape", mm.type.shape);
          residual = out.add("reshape", {residual}, std::move(shape), n.loc);
        }
        attrs.set("residual", int64_t{1});
        const runtime::MatmulEpilogueCall layout{.bias = attrs.get_int("bias") != 0, .residual = true};
        inputs.insert(inputs.begin() + layout.residual_buffer(), residual);
        break;
      }
    }
    Tensor fused = out.add("matmul_epilogue", inputs, std::move(attrs), mm.loc);
    if (m.product.reshape < 0) return fused.id;
    AttrMap shape;
    shape.set("shape", n.type.shape);
    return out.add("reshape", {fused}, std::move(shape), n.loc).id;
  });
}

}  // namespace

std::unique_ptr<Graph> fuse_matmul_epilogues(const Graph& graph) {
  std::unique_ptr<Graph> g = graph.clone();
  for (Stage stage : {Stage::bias, Stage::activation, Stage::residual}) {
    g = eliminate_dead_code(*fuse_stage(*g, stage));  // the replaced products go before the next count
  }
  return g;
}

}  // namespace reforge
