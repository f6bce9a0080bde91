#include "compiler/passes/reduction_splitting.h"

#include <algorithm>

#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

// Below this many input elements one thread finishes before the pool wakes.
constexpr int64_t kMinElements = int64_t{1} << 18;

// How many rows a column reduction of `n` sums (every axis but the last
// reduced), or 0 when `n` is not one.
int64_t reduced_rows(const Graph& g, const Node& n) {
  if (!n.def || !n.def->reduces_partials || !n.attrs.has("axes") || n.inputs.size() != 1) return 0;
  const Shape& in = g.node(n.inputs[0]).type.shape;
  const auto rank = static_cast<int64_t>(in.size());
  std::vector<int64_t> axes = n.attrs.get_ints("axes");
  std::sort(axes.begin(), axes.end());
  if (rank < 2 || static_cast<int64_t>(axes.size()) != rank - 1) return 0;
  for (int64_t d = 0; d + 1 < rank; ++d) {
    if (axes[d] != d) return 0;
  }
  int64_t rows = 1;
  for (int64_t d = 0; d + 1 < rank; ++d) rows *= in[d];
  return rows;
}

}  // namespace

std::unique_ptr<Graph> split_column_reductions(const Graph& graph, int64_t max_width) {
  const std::vector<int> readers = reader_counts(graph);
  auto stored_anyway = [&](int id) {
    const Node& producer = graph.node(id);
    const bool computed_in_reader = producer.def && (producer.def->elementwise() || producer.def->kind == OpKind::view);
    return !computed_in_reader || readers[id] > 1;
  };
  return rewrite_graph(graph, [&](const Node& n, RewriteContext& c) {
    const int64_t rows = reduced_rows(graph, n);
    if (rows == 0) return -1;
    const int input = n.inputs[0];
    const Shape& in = graph.node(input).type.shape;
    const int64_t width = in.back();
    if (width > max_width || rows % kReductionParts != 0 || rows * width < kMinElements || !stored_anyway(input)) {
      return -1;
    }
    Graph& out = c.out;
    auto add = [&](const std::string& op, int from, AttrMap attrs) {
      return out.add(op, {out.value(from)}, std::move(attrs), n.loc).id;
    };
    AttrMap blocks;
    blocks.set("shape", Shape{kReductionParts, rows / kReductionParts, width});
    AttrMap within, across;
    within.set("axes", std::vector<int64_t>{1});
    within.set("keepdims", int64_t{0});
    across.set("axes", std::vector<int64_t>{0});
    across.set("keepdims", int64_t{0});
    int partial = add(n.op, add("reshape", c.inputs[0], std::move(blocks)), std::move(within));
    int total = add(n.op, partial, std::move(across));
    if (out.node(total).type.shape != n.type.shape) {  // keepdims: [1, ..., 1, M]
      AttrMap shape;
      shape.set("shape", n.type.shape);
      total = add("reshape", total, std::move(shape));
    }
    return total;
  });
}

}  // namespace reforge
