#include "compiler/passes/lsh_forward_sharing.h"

#include <algorithm>
#include <vector>

#include "compiler/dsl/dsl.h"
#include "compiler/passes/rewrite.h"
#include "runtime/library_calls.h"

namespace reforge {
namespace {

struct Pair {
  int forward = -1, gradient = -1;
};

// Nodes that depend on `from` (itself included): one sweep, since a
// node's inputs come before it.
std::vector<bool> dependents(const Graph& graph, int from) {
  std::vector<bool> cone(graph.size(), false);
  cone[from] = true;
  for (int id = from + 1; id < graph.size(); ++id) {
    for (int in : graph.node(id).inputs) cone[id] = cone[id] || cone[in];
  }
  return cone;
}

// Forward computes what gradient's forward would: the same op, operands
// and attributes.
bool twins(const Node& forward, const Node& gradient) {
  return forward.op == gradient.def->shares_forward_of && forward.attrs == gradient.attrs &&
         std::equal(forward.inputs.begin(), forward.inputs.end(), gradient.inputs.begin());
}

// The first forward whose operands and attributes a later-shareable
// gradient has; {-1, -1} when none.
Pair find_pair(const Graph& graph, std::vector<bool>& cone) {
  for (int g = 0; g < graph.size(); ++g) {
    const Node& grad = graph.node(g);
    if (!grad.def || grad.def->shares_forward_of.empty() || grad.attrs.has("with_output")) continue;
    for (int f = 0; f < graph.size(); ++f) {
      if (!twins(graph.node(f), grad)) continue;
      cone = dependents(graph, f);
      if (!cone[g]) return {f, g};
    }
  }
  return {};
}

// The graph with `p.forward` replaced by a slice of `p.gradient`, which
// now also writes the result; the forward's dependents that came before
// the gradient follow it.
std::unique_ptr<Graph> share(const Graph& graph, const Pair& p, const std::vector<bool>& cone) {
  auto out = std::make_unique<Graph>(graph.name());
  out->set_default_float(graph.default_float());
  for (int id = 0; id < graph.size(); ++id) out->reserve_name(graph.node(id).name);
  std::vector<int> mapped(graph.size(), -1);
  auto emit = [&](int id) {
    const Node& n = graph.node(id);
    std::vector<int> inputs;
    for (int in : n.inputs) inputs.push_back(mapped.at(in));
    mapped[id] = copy_node(*out, n, inputs);
  };
  std::vector<int> deferred;
  for (int id = 0; id < graph.size(); ++id) {
    if (id == p.forward) continue;
    if (cone[id] && id < p.gradient) {
      deferred.push_back(id);
      continue;
    }
    if (id != p.gradient) {
      emit(id);
      continue;
    }
    emit(id);
    Node& grad = out->mutable_node(mapped[id]);
    const Node& forward = graph.node(p.forward);
    grad.attrs.set("with_output", int64_t{1});
    // The result's columns in each row, as the library call lays them out.
    const runtime::LshAttentionGradCall layout{
        .forward = {.shape = {.dk = out->node(grad.inputs[0]).type.shape[3], .dv = forward.type.shape[3]}},
        .with_output = true};
    const int64_t start = layout.result_column();
    grad.type.shape[3] = layout.row();
    {
      auto attribution = out->attribute_to(forward.loc);
      Tensor result = slice(out->value(mapped[id]), 3, start, grad.type.shape[3]);
      out->mutable_node(result.id).role = forward.role;
      mapped[p.forward] = result.id;
    }
    for (int d : deferred) emit(d);
  }
  for (const auto& [name, id] : graph.outputs()) out->output(name, out->value(mapped[id]));
  return out;
}

}  // namespace

std::unique_ptr<Graph> share_lsh_forward(const Graph& graph, int* shared) {
  int count = 0;
  std::unique_ptr<Graph> current = graph.clone();
  std::vector<bool> cone;
  for (Pair p = find_pair(*current, cone); p.forward >= 0; p = find_pair(*current, cone)) {
    current = share(*current, p, cone);
    ++count;
  }
  if (shared) *shared = count;
  return current;
}

std::unique_ptr<Graph> give_lsh_gradients_their_forward(const Graph& graph, int* given) {
  // Each gradient that can read its forward, and its earlier twin: its
  // result is computed before the gradient runs.
  std::vector<int> twin_of(graph.size(), -1);
  std::vector<std::string> extra_attr(graph.size());  // a twin's: what makes it write the gradient's rows
  int count = 0;
  for (int g = 0; g < graph.size(); ++g) {
    const Node& grad = graph.node(g);
    const size_t operands_and_cotangent = 5;
    if (!grad.def || !grad.def->reads_forward_result || grad.def->forward_extra_attr.empty() ||
        grad.attrs.has("with_output") || grad.inputs.size() != operands_and_cotangent) {
      continue;
    }
    for (int f = 0; f < g; ++f) {
      if (twins(graph.node(f), grad)) {
        twin_of[g] = f;
        extra_attr[f] = grad.def->forward_extra_attr;
        ++count;
        break;
      }
    }
  }
  if (given) *given = count;
  if (count == 0) return graph.clone();

  // The twins write their extra columns; their other readers take the
  // result's columns, a slice; each gradient reads the whole rows.
  auto out = std::make_unique<Graph>(graph.name());
  out->set_default_float(graph.default_float());
  for (int id = 0; id < graph.size(); ++id) out->reserve_name(graph.node(id).name);
  std::vector<int> mapped(graph.size(), -1), rows_of(graph.size(), -1);
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    std::vector<int> inputs;
    for (int in : n.inputs) inputs.push_back(mapped.at(in));
    if (twin_of[id] >= 0) inputs.push_back(rows_of.at(twin_of[id]));
    mapped[id] = copy_node(*out, n, inputs);
    if (extra_attr[id].empty()) continue;
    Node& forward = out->mutable_node(mapped[id]);
    forward.attrs.set(extra_attr[id], int64_t{1});
    std::vector<TensorType> types;
    for (int in : forward.inputs) types.push_back(out->node(in).type);
    const int64_t result_columns = forward.type.shape.back();
    forward.type = forward.def->infer(InferContext{types, forward.attrs, forward.regions});
    rows_of[id] = mapped[id];
    auto attribution = out->attribute_to(n.loc);
    Tensor result = slice(out->value(rows_of[id]), forward.type.rank() - 1, 0, result_columns);
    out->mutable_node(result.id).role = n.role;
    mapped[id] = result.id;
  }
  for (const auto& [name, id] : graph.outputs()) out->output(name, out->value(mapped[id]));
  return out;
}

}  // namespace reforge
