#include "compiler/passes/algebraic_simplification.h"

#include <optional>

#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

// Whether node `id` says every element is `value` (a constant).
bool is_uniform(const Graph& g, int id, std::optional<double> value) {
  const Node& n = g.node(id);
  if (!value || !n.def || !n.def->uniform_value) return false;
  const std::optional<double> uniform = n.def->uniform_value(n);
  return uniform && *uniform == *value;
}

// Every rule is the op's own (OpDef): an identity, an identity element,
// or a fold with its producer.
int simplify(const Node& n, RewriteContext& c) {
  Graph& g = c.out;
  const std::vector<int>& in = c.inputs;
  if (!n.def) return -1;
  const OpDef& def = *n.def;
  if (in.size() == 1 && def.is_identity && def.is_identity(n, g.node(in[0]).type)) return in[0];
  if (in.size() == 2) {
    if (is_uniform(g, in[1], def.right_identity)) return in[0];
    if (is_uniform(g, in[0], def.left_identity)) return in[1];
  }
  if (def.fold && !in.empty()) return def.fold(g, n, in);
  return -1;
}

}  // namespace

std::unique_ptr<Graph> simplify_algebra(const Graph& graph) {
  std::unique_ptr<Graph> out = rewrite_graph(graph, simplify);
  rewrite_regions(*out, simplify_algebra);
  return out;
}

}  // namespace reforge
