#include "compiler/passes/elementwise_fusion.h"

#include <numeric>

namespace reforge {
namespace {

int find_root(std::vector<int>& parent, int x) {
  while (parent[x] != x) x = parent[x] = parent[parent[x]];
  return x;
}

}  // namespace

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
  auto reduction = [&](int id) { return g.node(id).def && g.node(id).def->kind == OpKind::reduction; };
  for (int id = 0; id < n; ++id) {
    if (!elementwise(id) && !reduction(id)) continue;
    const Node& consumer = g.node(id);
    const Shape& read_shape = reduction(id) ? g.node(consumer.inputs.at(0)).type.shape : consumer.type.shape;
    for (int in : consumer.inputs) {
      // An input joins its only consumer's kernel when it is computable in
      // the kernel, has the shape the kernel reads, and nothing unfusable
      // runs between.
      if (fusable_producer(in) && consumers[in] == 1 && g.node(in).type.shape == read_shape &&
          last_unfusable_before[id] < in) {
        parent[find_root(parent, in)] = find_root(parent, id);
      }
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
