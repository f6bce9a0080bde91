#include "compiler/passes/lsh_fusion.h"

#include <string>

#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

// The fused op that replaces `n` (its OpDef::fused_form), or "" when none
// does.
std::string fused_op(const Node& n) { return n.def && n.def->fused_form ? n.def->fused_form(n) : ""; }

std::unique_ptr<Graph> fuse(const Graph& graph, int& count) {
  return rewrite_graph(graph, [&count](const Node& n, RewriteContext& c) {
    if (std::string op = fused_op(n); !op.empty()) {
      std::unique_ptr<Node> node = n.copy(c.inputs, /*with_regions=*/false);  // the kernel needs no decomposition
      node->op = op;
      node->def = find_op(node->op);
      ++count;
      return c.out.append(std::move(node));
    }
    if (n.regions.empty()) return -1;
    int id = copy_node(c.out, n, c.inputs);
    for (auto& region : c.out.mutable_node(id).regions) region = fuse(*region, count);
    return id;
  });
}

}  // namespace

std::unique_ptr<Graph> fuse_lsh_attention(const Graph& graph, int* fused) {
  int count = 0;
  std::unique_ptr<Graph> out = fuse(graph, count);
  if (fused) *fused = count;
  return out;
}

}  // namespace reforge
