#include "compiler/passes/kernel_grouping.h"

#include "compiler/passes/elementwise_fusion.h"

namespace reforge {
namespace {

// Multi-output kernels: an elementwise kernel whose value is read by just
// one other elementwise kernel of the same shape (and perhaps by the
// caller, as a graph output) is computed inside that kernel, which stores
// it too — when nothing else runs between the two, so no lifetime
// stretches. Adam's m and v next values join their parameter's update.
void merge_multi_output_kernels(const Graph& graph, KernelGrouping& kernels) {
  const int n = graph.size();
  auto elementwise = [&](int id) { return graph.node(id).def && graph.node(id).def->elementwise(); };
  auto runs_in_kernel = [&](int id) {
    const Node& node = graph.node(id);
    return node.def && (node.def->elementwise() || node.def->kind == OpKind::view || node.def->kind == OpKind::source);
  };
  // The kernel (root) that reads each value: -1 none yet, -2 several.
  std::vector<int> reading_kernel(n, -1);
  for (int id = 0; id < n; ++id) {
    for (int in : graph.node(id).inputs) {
      int root = kernels.kernel_root[id];
      reading_kernel[in] = reading_kernel[in] == -1 || reading_kernel[in] == root ? root : -2;
    }
  }
  kernels.stored.assign(n, false);
  for (int id = 0; id < n; ++id) {
    int r = reading_kernel[id];
    if (r < 0 || r == id || kernels.kernel_root[id] != id || kernels.kernel_root[r] != r) continue;
    if (!elementwise(id) || !elementwise(r) || graph.node(id).type.shape != graph.node(r).type.shape) continue;
    bool adjacent = true;
    for (int between = id + 1; between < r && adjacent; ++between) adjacent = runs_in_kernel(between);
    if (!adjacent) continue;
    kernels.stored[id] = true;
    for (int member = 0; member <= id; ++member) {  // its group, itself included
      if (kernels.kernel_root[member] == id) kernels.kernel_root[member] = r;
    }
  }
}

// Library ops that read a producer through an operand flag (a GEMM and
// the transpose feeding it) absorb it when they are its only reader.
void absorb_operands(const Graph& graph, KernelGrouping& kernels) {
  const std::vector<int> readers = reader_counts(graph);
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    if (!n.def || !n.def->absorbs_input) continue;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      int producer = n.inputs[i];
      if (readers[producer] == 1 && kernels.kernel_root[producer] == producer &&
          n.def->absorbs_input(static_cast<int>(i), graph.node(producer))) {
        kernels.kernel_root[producer] = id;
      }
    }
  }
}

}  // namespace

KernelGrouping kernel_grouping(const Graph& graph, bool elementwise_fusion) {
  KernelGrouping kernels;
  if (!elementwise_fusion) return kernels;
  FusionGroups groups = group_elementwise(graph);
  kernels.kernel_root.resize(graph.size());
  for (int id = 0; id < graph.size(); ++id) {
    kernels.kernel_root[id] = groups.group_of[id] >= 0 ? groups.groups[groups.group_of[id]].back() : id;
  }
  merge_multi_output_kernels(graph, kernels);
  absorb_operands(graph, kernels);
  return kernels;
}

}  // namespace reforge
