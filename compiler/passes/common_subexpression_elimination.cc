#include "compiler/passes/common_subexpression_elimination.h"

#include <fmt/format.h>

#include <map>

#include "compiler/ir/printer.h"
#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

std::string signature(const Node& n, const std::vector<int>& inputs) {
  std::string key = n.op + "(" + fmt::format("{}", fmt::join(inputs, ",")) + "){";
  for (const auto& [name, value] : n.attrs.entries()) key += name + "=" + format_attr_value(value) + ",";
  return key + "}" + type_to_string(n.type);
}

}  // namespace

std::unique_ptr<Graph> eliminate_common_subexpressions(const Graph& graph) {
  std::map<std::string, int> seen;  // signature -> new id
  std::unique_ptr<Graph> out = rewrite_graph(graph, [&seen](const Node& n, RewriteContext& c) {
    if (!n.regions.empty() || is_source(n)) return -1;
    // Constants, iotas and views or casts of sources (broadcasts of
    // parameters) cost nothing to recompute; merging a forward copy with a
    // backward one would keep it alive across the whole program.
    bool cheap_copy = n.def && (n.def->kind == OpKind::view || n.def->is_identity);
    bool from_sources_only = true;
    for (int in : c.inputs) from_sources_only = from_sources_only && is_source(c.out.node(in));
    if (from_sources_only && (c.inputs.empty() || cheap_copy)) return -1;
    std::string key = signature(n, c.inputs);
    auto it = seen.find(key);
    if (it != seen.end()) return it->second;
    int id = copy_node(c.out, n, c.inputs);
    seen.emplace(key, id);
    return id;
  });
  rewrite_regions(*out, eliminate_common_subexpressions);
  return out;
}

}  // namespace reforge
