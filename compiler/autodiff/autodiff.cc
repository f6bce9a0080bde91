#include "compiler/autodiff/autodiff.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>
#include <set>

#include "compiler/dsl/dsl.h"

namespace reforge {
namespace {

void accumulate(std::map<int, Tensor>& adjoints, int id, Tensor g) {
  auto it = adjoints.find(id);
  if (it == adjoints.end())
    adjoints.emplace(id, g);
  else
    it->second = it->second + g;
}

}  // namespace

std::vector<Tensor> vjp(Graph& graph, const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds,
                        const std::vector<Tensor>& wrt, const AutodiffOptions& options) {
  if (outputs.size() != seeds.size()) throw Error("vjp: one seed per output is required");
  const int forward_size = graph.size();
  std::set<int> stop;
  for (const Tensor& w : wrt) stop.insert(w.id);

  // Only nodes on a path from some `wrt` to some output get adjoints: the
  // ancestors of the outputs (found without passing through a `wrt`),
  // visited in id order — ids are topological. A reversible layer's vjp
  // thus costs its own recomputation, not the whole graph, and deep
  // models compile in time linear in depth.
  std::vector<int> cone;
  {
    std::vector<bool> seen(forward_size, false);
    std::vector<int> pending;
    for (const Tensor& o : outputs) pending.push_back(o.id);
    while (!pending.empty()) {
      int id = pending.back();
      pending.pop_back();
      if (id < 0 || id >= forward_size || seen[id]) continue;
      seen[id] = true;
      cone.push_back(id);
      if (!stop.count(id)) {
        for (int in : graph.node(id).inputs) pending.push_back(in);
      }
    }
    std::sort(cone.begin(), cone.end());
  }
  std::vector<bool> depends(forward_size, false);
  for (int id : cone) {
    if (stop.count(id)) {
      depends[id] = true;
      continue;
    }
    for (int in : graph.node(id).inputs) depends[id] = depends[id] || depends[in];
  }

  std::map<int, Tensor> adjoints;
  int highest = -1;
  for (size_t i = 0; i < outputs.size(); ++i) {
    if (outputs[i].type() != seeds[i].type()) {
      throw Error(fmt::format("vjp: seed {} has type {}, output is {}", i, type_to_string(seeds[i].type()),
                              type_to_string(outputs[i].type())));
    }
    if (!depends[outputs[i].id]) continue;
    accumulate(adjoints, outputs[i].id, seeds[i]);
    highest = std::max(highest, outputs[i].id);
  }

  auto differentiate = [&graph, &options](const std::vector<Tensor>& outs, const std::vector<Tensor>& sds,
                                          const std::vector<Tensor>& w) { return vjp(graph, outs, sds, w, options); };
  // Forward values that a rule rebuilt for the rest of the backward pass.
  std::map<int, Tensor> rebuilt;
  auto provide_rebuilt = [&rebuilt](const Tensor& forward, const Tensor& value) {
    if (forward.type() != value.type()) throw Error("internal: a rebuilt value must have its forward value's type");
    rebuilt[forward.id] = value;
  };
  auto current = [&graph, &rebuilt](int id) {
    auto it = rebuilt.find(id);
    return it != rebuilt.end() ? it->second : graph.value(id);
  };

  for (auto cone_it = cone.rbegin(); cone_it != cone.rend(); ++cone_it) {
    int id = *cone_it;
    if (id > highest) continue;
    auto it = adjoints.find(id);
    if (it == adjoints.end() || stop.count(id) || !depends[id]) continue;
    const Node& n = graph.node(id);
    auto override_rule = options.rule_overrides.find(n.op);
    const VjpRule* rule = override_rule != options.rule_overrides.end() ? &override_rule->second
                          : (options.reconstruct_inputs && n.def && n.def->reconstructing_vjp)
                              ? &n.def->reconstructing_vjp
                          : (n.def && n.def->vjp) ? &n.def->vjp
                                                  : nullptr;
    if (rule == nullptr) continue;
    std::vector<Tensor> inputs;
    for (int in : n.inputs) inputs.push_back(current(in));
    Tensor output = current(id);
    Tensor grad = it->second;
    std::vector<Tensor> grads;
    {
      auto scope = graph.replace_scope(n.name + ".grad");
      auto attribution = graph.attribute_to(n.loc);
      grads = (*rule)(VjpContext{graph, id, inputs, output, grad, differentiate, provide_rebuilt});
    }
    if (grads.size() != inputs.size()) {
      throw Error(
          fmt::format("internal: vjp of '{}' returned {} gradients for {} inputs", n.op, grads.size(), inputs.size()));
    }
    for (size_t k = 0; k < inputs.size(); ++k) {
      const Node& in = graph.node(n.inputs[k]);
      if (!grads[k].valid() || !depends[n.inputs[k]] || !is_float(in.type.dtype)) continue;
      if (grads[k].type() != in.type) {
        throw Error(fmt::format("internal: gradient of %{} through '{}' has type {}, expected {}", in.name, n.op,
                                type_to_string(grads[k].type()), type_to_string(in.type)));
      }
      accumulate(adjoints, n.inputs[k], grads[k]);
    }
  }

  std::vector<Tensor> result;
  std::set<int> returned;
  for (const Tensor& w : wrt) {
    auto it = adjoints.find(w.id);
    bool first = returned.insert(w.id).second;
    result.push_back(first && it != adjoints.end() ? it->second : Tensor{});
  }
  return result;
}

std::vector<Tensor> gradients(Tensor loss, const std::vector<Tensor>& wrt, const AutodiffOptions& options) {
  if (loss.rank() != 0 || !is_float(loss.dtype())) {
    throw Error("gradients: the loss must be a float scalar, got " + type_to_string(loss.type()));
  }
  Graph& graph = *loss.graph;
  std::vector<Tensor> grads = vjp(graph, {loss}, {full_like(loss, 1.0)}, wrt, options);
  for (size_t i = 0; i < grads.size(); ++i) {
    if (!grads[i].valid()) grads[i] = full_like(wrt[i], 0.0);
  }
  return grads;
}

}  // namespace reforge
