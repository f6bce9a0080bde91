#include "compiler/passes/kernel_grouping.h"

#include "compiler/passes/elementwise_fusion.h"

namespace reforge {
namespace {

// A kernel whose value is read by just one other kernel joins that kernel
// (the reader's own inputs are the last thing it needs):
//   - computed there and not stored at all, when no graph output is its
//     value and the reader reads it element for element at its own shape
//     (the GELU and layer-norm gradients' x*x and tanh, each read by two
//     members of one kernel, stored and read back from memory before);
//   - computed there and stored from there too (a multi-output kernel),
//     when the caller reads it as a graph output: Adam's m and v next
//     values join their parameter's update.
// Its own inputs are then read at the reader's step. It joins only when
// that stretches no lifetime: nothing but kernels runs between the two,
// or each input is read at or after the reader anyway (or is fed, and
// lives throughout).
void merge_into_reading_kernels(const Graph& graph, KernelGrouping& kernels) {
  const int n = graph.size();
  auto has_kind = [&](int id, OpKind kind) { return graph.node(id).def && graph.node(id).def->kind == kind; };
  auto elementwise = [&](int id) { return graph.node(id).def && graph.node(id).def->elementwise(); };
  auto runs_in_kernel = [&](int id) {
    return elementwise(id) || has_kind(id, OpKind::view) || has_kind(id, OpKind::source);
  };
  const std::vector<std::vector<int>> readers = readers_of(graph);
  std::vector<bool> escapes(n, false);
  for (const auto& [name, id] : graph.outputs()) escapes[id] = true;
  // The step (a kernel root's node id) at which a value is last read.
  auto last_read = [&](int id) {
    int last = -1;
    for (int reader : readers[id]) last = std::max(last, kernels.kernel_root[reader]);
    return last;
  };
  kernels.stored.assign(n, false);
  // From the last node back: a value's readers have joined their kernels
  // by the time it is considered.
  for (int id = n - 1; id >= 0; --id) {
    if (kernels.kernel_root[id] != id || readers[id].empty() || !elementwise(id)) continue;
    const int r = kernels.kernel_root[readers[id].front()];
    bool one_reader = r != id && kernels.kernel_root[r] == r;
    for (int reader : readers[id]) one_reader = one_reader && kernels.kernel_root[reader] == r;
    if (!one_reader) continue;
    const Shape& shape = graph.node(id).type.shape;
    std::vector<int> members;  // id's kernel: itself and what it absorbed
    for (int member = 0; member <= id; ++member) {
      if (kernels.kernel_root[member] == id) members.push_back(member);
    }
    bool fuse =
        !escapes[id] && (elementwise(r) || has_kind(r, OpKind::reduction)) && kernel_read_shape(graph, r) == shape;
    for (int reader : readers[id]) {  // each reads it at the kernel's element
      fuse = fuse && ((elementwise(reader) && graph.node(reader).type.shape == shape) ||
                      (reader == r && has_kind(r, OpKind::reduction)));
    }
    const bool store = escapes[id] && elementwise(r) && graph.node(r).type.shape == shape;
    if (!fuse && !store) continue;
    bool adjacent = true;
    for (int between = id + 1; between < r && adjacent; ++between) adjacent = runs_in_kernel(between);
    bool no_stretch = true;
    for (int member : members) {
      for (int in : graph.node(member).inputs) {
        if (kernels.kernel_root[in] == id) continue;  // computed inside
        no_stretch = no_stretch && (last_read(in) >= r || escapes[in] || has_kind(in, OpKind::source));
      }
    }
    if (!adjacent && !no_stretch) continue;
    kernels.stored[id] = store;
    for (int member : members) kernels.kernel_root[member] = r;
  }
}

// Library ops that read a producer through an operand flag (a GEMM and
// the transpose feeding it) absorb it when they are its only reader.
// Not a view that reads another view in its kernel: the call reads the
// view's input from memory.
void absorb_operands(const Graph& graph, KernelGrouping& kernels) {
  const std::vector<int> readers = reader_counts(graph);
  std::vector<bool> has_members(graph.size(), false);
  for (int id = 0; id < graph.size(); ++id) {
    if (kernels.kernel_root[id] != id) has_members[kernels.kernel_root[id]] = true;
  }
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    if (!n.def || !n.def->absorbs_input) continue;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      int producer = n.inputs[i];
      if (readers[producer] == 1 && kernels.kernel_root[producer] == producer && !has_members[producer] &&
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
  merge_into_reading_kernels(graph, kernels);
  absorb_operands(graph, kernels);
  return kernels;
}

}  // namespace reforge
