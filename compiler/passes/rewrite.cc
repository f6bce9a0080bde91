#include "compiler/passes/rewrite.h"

namespace reforge {

int copy_node(Graph& out, const Node& n, std::vector<int> inputs) { return out.append(n.copy(std::move(inputs))); }

void rewrite_regions(Graph& graph, const std::function<std::unique_ptr<Graph>(const Graph&)>& pass) {
  for (int id = 0; id < graph.size(); ++id) {
    for (auto& region : graph.mutable_node(id).regions) region = pass(*region);
  }
}

std::unique_ptr<Graph> rewrite_graph(const Graph& graph, const RewriteFn& replace, const std::vector<bool>* keep) {
  auto out = std::make_unique<Graph>(graph.name());
  out->set_default_float(graph.default_float());
  for (int id = 0; id < graph.size(); ++id) out->reserve_name(graph.node(id).name);
  std::vector<int> mapped(graph.size(), -1);
  for (int id = 0; id < graph.size(); ++id) {
    if (keep && !(*keep)[id]) continue;
    const Node& n = graph.node(id);
    RewriteContext context{*out, mapped, {}, id};
    for (int in : n.inputs) {
      if (mapped[in] < 0) throw Error("internal: rewrite dropped %" + graph.node(in).name + " that is still used");
      context.inputs.push_back(mapped[in]);
    }
    int replacement;
    const int first_new = out->size();
    {
      auto attribution = out->attribute_to(n.loc);  // what the callback builds is at n's line
      replacement = replace(n, context);
    }
    if (replacement >= 0) {
      // What the callback built does what `n` did: it takes n's role, and
      // the value that replaces n takes its name (feeds, outputs, plans and
      // profiles keep naming it). An existing value keeps its own. Only
      // the replacement is the parameter gradient the optimizer reads (a
      // value the plan keeps outside the arena); the values it is made
      // from are gradients like any other: a split column sum's view of
      // its [65536, 512] input became a persistent 128 MiB buffer.
      const ValueRole within = n.role == ValueRole::parameter_gradient ? ValueRole::gradient : n.role;
      for (int built = first_new; built < out->size(); ++built) {
        out->mutable_node(built).role = built == replacement ? n.role : within;
      }
      if (replacement >= first_new) out->mutable_node(replacement).name = n.name;
    }
    mapped[id] = replacement >= 0 ? replacement : copy_node(*out, n, context.inputs);
  }
  for (const auto& [name, id] : graph.outputs()) out->output(name, out->value(mapped[id]));
  return out;
}

}  // namespace reforge
