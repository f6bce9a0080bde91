#include "compiler/passes/gradient_all_reduce.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "base/error.h"
#include "compiler/dsl/dsl.h"
#include "compiler/passes/rewrite.h"

namespace reforge {
namespace {

struct Bucket {
  std::vector<int> gradients;  // old ids, in the order the backward finishes them
  int64_t bytes = 0;
  int started = -1;                 // new id of its all_reduce_start
  std::map<int, int> summed_of;     // old gradient id -> new id of its summed slice
};

// Gradients in graph order (the order the backward finishes them), cut
// into buckets of at least `bucket_bytes` (the last may be smaller) that
// hold one element type each.
std::vector<Bucket> form_buckets(const Graph& g, std::vector<int> ids, int64_t bucket_bytes) {
  std::sort(ids.begin(), ids.end());
  std::vector<Bucket> buckets;
  for (int id : ids) {
    const TensorType& type = g.node(id).type;
    if (buckets.empty() || buckets.back().bytes >= bucket_bytes ||
        g.node(buckets.back().gradients[0]).type.dtype != type.dtype) {
      buckets.emplace_back();
    }
    buckets.back().gradients.push_back(id);
    buckets.back().bytes += type.bytes();
  }
  return buckets;
}

AttrMap bucket_attrs(int bucket) {
  AttrMap a;
  a.set("bucket", int64_t{bucket});
  return a;
}

}  // namespace

std::unique_ptr<Graph> insert_gradient_all_reduce(const Graph& graph, const std::vector<std::string>& gradients,
                                                  const GradientBuckets& options) {
  if (options.bucket_bytes < 1) throw Error("a gradient bucket must hold at least one byte");
  std::vector<int> ids;
  for (const std::string& name : gradients) {
    int id = graph.find_node(name);
    if (id < 0) throw Error(fmt::format("gradient all-reduce: the step has no gradient '{}'", name));
    if (!is_float(graph.node(id).type.dtype)) continue;
    ids.push_back(id);
  }
  std::vector<Bucket> buckets = form_buckets(graph, ids, options.bucket_bytes);
  std::vector<int> bucket_of(graph.size(), -1), last_of_bucket(graph.size(), -1);
  for (size_t k = 0; k < buckets.size(); ++k) {
    for (int id : buckets[k].gradients) bucket_of[id] = static_cast<int>(k);
    last_of_bucket[buckets[k].gradients.back()] = static_cast<int>(k);
  }

  std::vector<int> communication;  // new ids of the nodes this pass builds
  auto built = [&](Tensor t) {
    communication.push_back(t.id);
    return t;
  };
  // The summed bucket, sliced back into each gradient's shape; built
  // before the first node that reads one of its gradients.
  auto wait_for = [&](Graph& out, int k) {
    Bucket& b = buckets[k];
    Tensor summed = built(out.add("all_reduce_wait", {out.value(b.started)}, bucket_attrs(k),
                                  graph.node(b.gradients.back()).loc)
                              .named(fmt::format("gradient_bucket{}.summed", k)));
    int64_t at = 0;
    for (int id : b.gradients) {
      const Node& gradient = graph.node(id);
      const int64_t n = gradient.type.elements();
      Tensor part = built(slice(summed, 0, at, at + n));
      b.summed_of[id] = built(reshape(part, gradient.type.shape).named(gradient.name + ".summed")).id;
      at += n;
    }
  };

  std::unique_ptr<Graph> out = rewrite_graph(graph, [&](const Node& node, RewriteContext& c) -> int {
    // Inputs that are bucketed gradients read their sums, once they are
    // started; the bucket's own pack reads the local gradient.
    bool changed = false;
    for (size_t i = 0; i < node.inputs.size(); ++i) {
      const int in = node.inputs[i];
      const int k = bucket_of[in];
      if (k < 0) continue;
      Bucket& b = buckets[k];
      if (b.started < 0) {
        throw Error(fmt::format("gradient all-reduce: %{} reads the gradient %{} before its bucket is complete",
                                node.name, graph.node(in).name));
      }
      if (b.summed_of.empty()) wait_for(c.out, k);
      c.inputs[i] = b.summed_of.at(in);
      changed = true;
    }
    const int k = last_of_bucket[c.id];
    if (!changed && k < 0) return -1;
    const int copy = copy_node(c.out, node, c.inputs);
    if (k >= 0) {
      // The gradient's node is in the new graph; this one was its bucket's
      // last: the sum can start.
      Bucket& b = buckets[k];
      std::vector<Tensor> parts;
      for (int id : b.gradients) parts.push_back(c.out.value(id == b.gradients.back() ? copy : c.mapped[id]));
      b.started = built(c.out.add("all_reduce_start", parts, bucket_attrs(k), node.loc)
                            .named(fmt::format("gradient_bucket{}", k)))
                      .id;
    }
    return copy;
  });
  for (int id : communication) out->mutable_node(id).role = ValueRole::communication;
  return out;
}

}  // namespace reforge
