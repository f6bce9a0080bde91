#include "compiler/passes/broadcast_rematerialisation.h"

#include <vector>

#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

// Broadcasts worth copying: read by more than one node (a node reading
// one twice counts once), not outputs, and at least doubling their input.
std::vector<bool> broadcasts_to_copy(const Graph& graph) {
  std::vector<int> readers(graph.size(), 0);
  for (int id = 0; id < graph.size(); ++id) {
    const std::vector<int>& inputs = graph.node(id).inputs;
    for (size_t i = 0; i < inputs.size(); ++i) {
      bool seen = false;
      for (size_t j = 0; j < i; ++j) seen = seen || inputs[j] == inputs[i];
      if (!seen) ++readers[inputs[i]];
    }
  }
  std::vector<bool> copy(graph.size(), false);
  for (const auto& [name, id] : graph.outputs()) readers[id] = -1;
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    if (n.op != "broadcast" || readers[id] < 2 || n.inputs.size() != 1) continue;
    copy[id] = 2 * graph.node(n.inputs[0]).type.elements() <= n.type.elements();
  }
  return copy;
}

}  // namespace

std::unique_ptr<Graph> rematerialise_broadcasts(const Graph& graph, int* copied) {
  const std::vector<bool> copy = broadcasts_to_copy(graph);
  int count = 0;
  for (bool c : copy) count += c ? 1 : 0;
  if (copied) *copied = count;
  if (count == 0) return graph.clone();

  auto out = std::make_unique<Graph>(graph.name());
  out->set_default_float(graph.default_float());
  for (int id = 0; id < graph.size(); ++id) out->reserve_name(graph.node(id).name);
  std::vector<int> mapped(graph.size(), -1);
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    if (copy[id]) continue;  // made again for each reader
    std::vector<int> inputs;
    std::vector<std::pair<int, int>> made;  // (broadcast, its copy for this reader)
    for (int in : n.inputs) {
      if (!copy[in]) {
        inputs.push_back(mapped.at(in));
        continue;
      }
      int copy_id = -1;
      for (const auto& [broadcast, id_made] : made) copy_id = broadcast == in ? id_made : copy_id;
      if (copy_id < 0) {
        const Node& broadcast = graph.node(in);
        copy_id = copy_node(*out, broadcast, {mapped.at(broadcast.inputs[0])});
        Node& fresh = out->mutable_node(copy_id);
        fresh.name = out->unique_name(broadcast.name, /*scoped=*/false);
        fresh.role = n.role;  // computed where its reader is
        made.emplace_back(in, copy_id);
      }
      inputs.push_back(copy_id);
    }
    mapped[id] = copy_node(*out, n, inputs);
  }
  for (const auto& [name, id] : graph.outputs()) out->output(name, out->value(mapped[id]));
  return out;
}

}  // namespace reforge
