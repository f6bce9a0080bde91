#include "compiler/passes/view_rematerialisation.h"

#include <vector>

#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

// Views worth copying: read by more than one node (a node reading one
// twice counts once), not outputs, and either repeating their input to at
// least double its size (broadcasts), absorbed by every reader
// (transposes feeding GEMMs as operand flags), or slices that only
// elementwise ops, reductions and concats read.
std::vector<bool> views_to_copy(const Graph& graph) {
  std::vector<int> readers(graph.size(), 0);
  // Whether every reader takes the node through an operand flag (a GEMM
  // reading a transposed operand in place).
  std::vector<bool> absorbed_by_all(graph.size(), true);
  // Whether every reader computes a view it reads in its own loop: an
  // elementwise op, a reduction or a concat (not every view: a reshape
  // that a GEMM reads needs its input stored).
  std::vector<bool> fused_by_all(graph.size(), true);
  for (int id = 0; id < graph.size(); ++id) {
    const Node& reader = graph.node(id);
    const std::vector<int>& inputs = reader.inputs;
    const bool fuses = reader.def && (reader.def->kind == OpKind::elementwise ||
                                      reader.def->kind == OpKind::reduction || reader.op == "concat");
    for (size_t i = 0; i < inputs.size(); ++i) {
      bool seen = false;
      for (size_t j = 0; j < i; ++j) seen = seen || inputs[j] == inputs[i];
      if (!seen) ++readers[inputs[i]];
      const bool absorbs = reader.def && reader.def->absorbs_input &&
                           reader.def->absorbs_input(static_cast<int>(i), graph.node(inputs[i]));
      if (!absorbs) absorbed_by_all[inputs[i]] = false;
      if (!fuses) fused_by_all[inputs[i]] = false;
    }
  }
  std::vector<bool> copy(graph.size(), false);
  for (const auto& [name, id] : graph.outputs()) readers[id] = -1;
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    if (readers[id] < 2 || n.inputs.size() != 1 || !n.def || n.def->kind != OpKind::view) continue;
    const bool grows = n.def->repeats_input && 2 * graph.node(n.inputs[0]).type.elements() <= n.type.elements();
    copy[id] = grows || absorbed_by_all[id] || (n.op == "slice" && fused_by_all[id]);
  }
  return copy;
}

}  // namespace

std::unique_ptr<Graph> rematerialise_shared_views(const Graph& graph, int* copied) {
  const std::vector<bool> copy = views_to_copy(graph);
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
    std::vector<std::pair<int, int>> made;  // (view, its copy for this reader)
    for (int in : n.inputs) {
      if (!copy[in]) {
        inputs.push_back(mapped.at(in));
        continue;
      }
      int copy_id = -1;
      for (const auto& [view, id_made] : made) copy_id = view == in ? id_made : copy_id;
      if (copy_id < 0) {
        const Node& view = graph.node(in);
        copy_id = copy_node(*out, view, {mapped.at(view.inputs[0])});
        Node& fresh = out->mutable_node(copy_id);
        fresh.name = out->unique_name(view.name, /*scoped=*/false);
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
