#include "compiler/passes/expand_structured.h"

#include "compiler/dsl/dsl.h"
#include "compiler/ir/inline_region.h"

namespace reforge {
namespace {

bool is_structured(const std::string& op) { return op == "chunked_map" || op == "reversible"; }

Tensor expand_chunked_map(Graph& out, const Node& n, const std::vector<Tensor>& inputs) {
  int64_t axis = n.attrs.get_int("axis"), chunks = n.attrs.get_int("chunks"), sliced = n.attrs.get_int("sliced");
  std::vector<Tensor> parts;
  for (int64_t k = 0; k < chunks; ++k) {
    std::vector<Tensor> args;
    for (size_t i = 0; i < inputs.size(); ++i) {
      Tensor x = inputs[i];
      if (static_cast<int64_t>(i) < sliced) {
        int64_t len = x.dim(axis) / chunks;
        args.push_back(slice(x, axis, k * len, (k + 1) * len));
      } else {
        args.push_back(x);
      }
    }
    parts.push_back(inline_region(out, *n.regions[0], args).at(0));
  }
  return parts.size() == 1 ? parts[0] : concat(parts, axis);
}

Tensor expand_reversible(Graph& out, const Node& n, const std::vector<Tensor>& inputs) {
  int64_t f_captures = n.attrs.get_int("f_captures");
  Tensor x1 = stream(inputs[0], 0), x2 = stream(inputs[0], 1);
  std::vector<Tensor> f_args{x2};
  f_args.insert(f_args.end(), inputs.begin() + 1, inputs.begin() + 1 + f_captures);
  Tensor y1 = x1 + inline_region(out, *n.regions[0], f_args).at(0);
  std::vector<Tensor> g_args{y1};
  g_args.insert(g_args.end(), inputs.begin() + 1 + f_captures, inputs.end());
  Tensor y2 = x2 + inline_region(out, *n.regions[1], g_args).at(0);
  return stack_streams(y1, y2);
}

// One level: structured nodes of `graph` become inlined bodies (which may
// themselves contain structured nodes).
std::unique_ptr<Graph> expand_once(const Graph& graph, bool& changed) {
  auto out = std::make_unique<Graph>(graph.name());
  out->set_default_float(graph.default_float());
  std::vector<int> mapped(graph.size(), -1);
  for (int id = 0; id < graph.size(); ++id) out->reserve_name(graph.node(id).name);
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    if (is_structured(n.op)) {
      changed = true;
      std::vector<Tensor> inputs;
      for (int in : n.inputs) inputs.push_back(out->value(mapped[in]));
      auto attribution = out->attribute_to(n.loc);
      Tensor result = n.op == "reversible" ? expand_reversible(*out, n, inputs) : expand_chunked_map(*out, n, inputs);
      mapped[id] = result.id;
      continue;
    }
    auto copy = std::make_unique<Node>();
    copy->op = n.op;
    copy->def = n.def;
    for (int in : n.inputs) copy->inputs.push_back(mapped[in]);
    copy->attrs = n.attrs;
    copy->type = n.type;
    copy->loc = n.loc;
    copy->name = n.name;  // reserved above
    for (const auto& r : n.regions) copy->regions.push_back(r->clone());
    mapped[id] = out->append(std::move(copy));
  }
  for (const auto& [name, id] : graph.outputs()) out->output(name, out->value(mapped[id]));
  return out;
}

}  // namespace

std::unique_ptr<Graph> expand_structured(const Graph& graph) {
  std::unique_ptr<Graph> current = graph.clone();
  for (bool changed = true; changed;) {
    changed = false;
    current = expand_once(*current, changed);
  }
  return current;
}

}  // namespace reforge
