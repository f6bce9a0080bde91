#include "compiler/passes/elementwise_fusion.h"

#include <numeric>

namespace reforge {
namespace {

int find_root(std::vector<int>& parent, int x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

bool is_reduction(const Graph& g, int id) { return g.node(id).def && g.node(id).def->kind == OpKind::reduction; }

}  // namespace

const Shape& kernel_read_shape(const Graph& g, int root) {
  return is_reduction(g, root) ? g.node(g.node(root).inputs.at(0)).type.shape : g.node(root).type.shape;
}

FusionGroups group_elementwise(const Graph& g) {
  const int n = g.size();
  const std::vector<int> consumers = reader_counts(g);  // an output always escapes
  auto elementwise = [&](int id) { return g.node(id).def && g.node(id).def->elementwise(); };
  // Producers a kernel can compute itself: elementwise ops (constants and
  // iotas among them: no memory at all) and views (an indexed read of
  // their input).
  // A concat of more than two parts stays out: a kernel reads it as one
  // (clamped, always in-bounds) load from every part and a select, so each
  // element would cost a load per part (the residual add over the eight
  // chunks of a feed-forward read 8x its data); stored once, it costs a copy.
  constexpr size_t kMaxFusedConcatParts = 2;
  auto fusable_producer = [&](int id) {
    const Node& node = g.node(id);
    if (node.def && node.def->reads_every_input && node.inputs.size() > kMaxFusedConcatParts) return false;
    return elementwise(id) || (node.def && node.def->kind == OpKind::view);
  };

  // last_unfusable_before[id]: the latest node before `id` that no kernel
  // can absorb. Fusing a producer into its consumer moves its work (and the
  // reads of its inputs) to the consumer's step; across unfusable work in
  // between, that would stretch the inputs' lifetimes (a running sum of
  // per-chunk gradients would keep every chunk's gradient alive).
  std::vector<int> last_unfusable_before(n, -1);
  for (int id = 1; id < n; ++id) {
    last_unfusable_before[id] = fusable_producer(id - 1) ? last_unfusable_before[id - 1] : id - 1;
  }
  std::vector<int> parent(n);
  std::iota(parent.begin(), parent.end(), 0);
  // A kernel is rooted at an elementwise op or a reduction; it reads its
  // producers at the shape of its own output or, for a reduction, input.
  auto reduction = [&](int id) { return is_reduction(g, id); };
  auto joins = [&](int in, int consumer) {
    return fusable_producer(in) && consumers[in] == 1 && g.node(in).type.shape == kernel_read_shape(g, consumer) &&
           last_unfusable_before[consumer] < in;
  };
  // A view that reads each element of its input at most once (a slice, a
  // transpose, a pad; a concat of two parts once per part) reads its
  // producer through its own index map, in its own kernel:
  //   - a view producer of the same kind always: the LSH forward's result
  //     columns, sliced out of its rows, are transposed in one pass;
  //   - an elementwise producer when the view is itself inside an
  //     elementwise or reduction kernel: hashing's -x inside
  //     argmax(concat(x, -x)) was stored and read back.
  // A broadcast would compute its producer again for every copy; a reshape
  // is free already (its input's buffer), and computing through it costs a
  // division per element.
  auto reads_once = [&](int id) {
    const Node& node = g.node(id);
    return node.def && node.def->kind == OpKind::view && !node.def->repeats_input && !node.def->reinterprets_input &&
           fusable_producer(id);
  };
  const std::vector<std::vector<int>> readers = readers_of(g);
  auto in_computing_kernel = [&](int view) {
    if (readers[view].size() != 1) return false;
    const int consumer = readers[view][0];
    return (elementwise(consumer) || reduction(consumer)) && joins(view, consumer);
  };
  for (int id = 0; id < n; ++id) {
    const bool view = reads_once(id);
    if (!elementwise(id) && !reduction(id) && !view) continue;
    for (int in : g.node(id).inputs) {
      // An input joins its only consumer's kernel when it is computable in
      // the kernel, is read there once per element (at the shape the
      // kernel reads, or through such a view), and nothing unfusable runs
      // between.
      const bool absorbed = view ? consumers[in] == 1 && last_unfusable_before[id] < in &&
                                       (reads_once(in) || (elementwise(in) && in_computing_kernel(id)))
                                 : joins(in, id);
      if (absorbed) parent[find_root(parent, in)] = find_root(parent, id);
    }
  }
  FusionGroups out;
  out.group_of.assign(n, -1);
  std::vector<int> index_of_root(n, -1);
  std::vector<int> members(n, 0);
  for (int id = 0; id < n; ++id) ++members[find_root(parent, id)];
  for (int id = 0; id < n; ++id) {
    int root = find_root(parent, id);
    if (members[root] < 2) continue;
    if (index_of_root[root] < 0) {
      index_of_root[root] = static_cast<int>(out.groups.size());
      out.groups.emplace_back();
    }
    out.group_of[id] = index_of_root[root];
    out.groups[index_of_root[root]].push_back(id);
  }
  return out;
}

}  // namespace reforge
