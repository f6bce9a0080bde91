// View rematerialisation: every reader of a shared broadcast, of a
// transpose that matmuls read in place, or of a slice that only fusing
// readers read, gets its own copy just before it; the values stay bit for
// bit the same. Broadcast copies fuse into their
// readers, so a layer norm's statistics are no longer stored at full size
// between its forward and its gradient (the planned peak of such a graph
// and of a Reformer training step goes down); transpose copies are read in
// place by each GEMM, so no transpose kernel is left.
#include "compiler/passes/view_rematerialisation.h"

#include <gtest/gtest.h>

#include "compiler/autodiff/autodiff.h"
#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/verifier.h"
#include "compiler/memory/memory_plan.h"
#include "compiler/passes/expand_structured.h"
#include "compiler/passes/kernel_grouping.h"
#include "compiler/passes/lsh_forward_sharing.h"
#include "compiler/pipeline/compile.h"
#include "models/reformer_step.h"
#include "tests/testing/built_graph.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/graph_queries.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

using testing::random_tensor;

// x [R, 1] broadcast to [R, C] and read three times: by two elementwise
// ops with a matmul between them, and by the matmul itself.
using Built = testing::BuiltGraph;
Built shared_broadcast(int64_t rows, int64_t columns) {
  Built b{std::make_unique<Graph>("shared"), {}};
  Graph& g = *b.graph;
  g.set_default_float(DType::f64);
  Tensor x = g.input("x", {DType::f64, {rows, 1}});
  Tensor z = g.input("z", {DType::f64, {rows, columns}});
  Tensor w = g.input("w", {DType::f64, {columns, columns}});
  b.feeds["x"] = random_tensor({{DType::f64, {rows, 1}}, -1, 1}, 1);
  b.feeds["z"] = random_tensor({{DType::f64, {rows, columns}}, -1, 1}, 2);
  b.feeds["w"] = random_tensor({{DType::f64, {columns, columns}}, -1, 1}, 3);
  Tensor wide = broadcast_to(x, {rows, columns});
  Tensor first = wide * z;
  Tensor product = matmul(first, w) + matmul(wide, w);
  g.output("y", product - wide);
  verify(g);
  return b;
}

TEST(ViewRematerialisation, EachReaderGetsItsOwnCopyJustBeforeIt) {
  Built b = shared_broadcast(6, 8);
  ASSERT_EQ(testing::count_ops(*b.graph, "broadcast"), 1);
  int copied = 0;
  std::unique_ptr<Graph> after = rematerialise_shared_views(*b.graph, &copied);
  verify(*after);
  EXPECT_EQ(copied, 1);
  EXPECT_EQ(testing::count_ops(*after, "broadcast"), 3);
  for (int id = 0; id < after->size(); ++id) {
    if (after->node(id).op != "broadcast") continue;
    int readers = 0;
    for (int user = id + 1; user < after->size(); ++user) {
      for (int in : after->node(user).inputs) readers += in == id;
    }
    EXPECT_EQ(readers, 1) << after->node(id).name;
    ASSERT_LT(id + 1, after->size());
    bool next_reads_it = false;
    for (int in : after->node(id + 1).inputs) next_reads_it = next_reads_it || in == id;
    EXPECT_TRUE(next_reads_it) << after->node(id).name << " is not made just before its reader";
  }
  ValueMap expected = run_graph(*b.graph, b.feeds), got = run_graph(*after, b.feeds);
  ASSERT_EQ(got.at("y").data, expected.at("y").data);
}

// x^T read by two matmuls (two weight gradients of one input): each gets
// its own transpose, which its GEMM reads in place.
TEST(ViewRematerialisation, TransposeSharedByMatmulsIsReadInPlaceByEach) {
  Graph g("weight_gradients");
  g.set_default_float(DType::f64);
  Tensor x = g.input("x", {DType::f64, {6, 4}});
  Tensor gq = g.input("gq", {DType::f64, {6, 3}});
  Tensor gv = g.input("gv", {DType::f64, {6, 5}});
  Tensor xt = transpose(x, {1, 0});
  g.output("dwq", matmul(xt, gq));
  g.output("dwv", matmul(xt, gv));
  ValueMap feeds;
  feeds["x"] = random_tensor({{DType::f64, {6, 4}}, -1, 1}, 1);
  feeds["gq"] = random_tensor({{DType::f64, {6, 3}}, -1, 1}, 2);
  feeds["gv"] = random_tensor({{DType::f64, {6, 5}}, -1, 1}, 3);
  int copied = 0;
  std::unique_ptr<Graph> after = rematerialise_shared_views(g, &copied);
  verify(*after);
  EXPECT_EQ(copied, 1);
  EXPECT_EQ(testing::count_ops(*after, "transpose"), 2);
  KernelGrouping kernels = kernel_grouping(*after, /*elementwise_fusion=*/true);
  for (int id = 0; id < after->size(); ++id) {
    if (after->node(id).op != "transpose") continue;
    EXPECT_TRUE(kernels.fused_away(id)) << after->node(id).name << " is not read in place";
    EXPECT_EQ(after->node(kernels.kernel_root[id]).op, "matmul");
  }
  ValueMap expected = run_graph(g, feeds), got = run_graph(*after, feeds);
  ASSERT_EQ(got.at("dwq").data, expected.at("dwq").data);
  ASSERT_EQ(got.at("dwv").data, expected.at("dwv").data);
}

TEST(ViewRematerialisation, LeavesATransposeAnElementwiseOpAlsoReads) {
  Graph g("mixed");
  g.set_default_float(DType::f64);
  Tensor x = g.input("x", {DType::f64, {6, 4}});
  Tensor w = g.input("w", {DType::f64, {6, 3}});
  Tensor xt = transpose(x, {1, 0});
  g.output("product", matmul(xt, w));
  g.output("scaled", xt * 2.0);
  int copied = -1;
  std::unique_ptr<Graph> after = rematerialise_shared_views(g, &copied);
  EXPECT_EQ(copied, 0);
  EXPECT_EQ(testing::count_ops(*after, "transpose"), 1);
}

TEST(ViewRematerialisation, LeavesOutputsSingleReadersAndNonExpandingBroadcasts) {
  Graph g("kept");
  g.set_default_float(DType::f64);
  Tensor x = g.input("x", {DType::f64, {4, 1}});
  Tensor z = g.input("z", {DType::f64, {4, 3}});
  Tensor output = broadcast_to(x, {4, 3});
  g.output("wide", output);
  g.output("a", output * z);
  Tensor single = broadcast_to(x, {4, 5});
  g.output("b", single + 1.0);
  Tensor y = g.input("y", {DType::f64, {1, 4}});
  Tensor same = broadcast_to(y, {1, 4});
  g.output("c", same * 2.0);
  g.output("d", same + 3.0);
  int copied = -1;
  std::unique_ptr<Graph> after = rematerialise_shared_views(g, &copied);
  EXPECT_EQ(copied, 0);
  EXPECT_EQ(testing::count_ops(*after, "broadcast"), testing::count_ops(g, "broadcast"));
}

// LSH hashing with two bucket factors: argmax(concat(part, -part)) reads
// each factor's slice twice. Copied per reader, the slices are computed
// inside the argmax's kernel; a slice a GEMM reads (through a reshape)
// stays as it was.
TEST(ViewRematerialisation, SlicesThatOnlyFusingReadersReadAreComputedWhereRead) {
  Graph g("hash");
  g.set_default_float(DType::f64);
  Tensor rotated = g.input("rotated", {DType::f64, {2, 12, 40}});
  Tensor w = g.input("w", {DType::f64, {40, 3}});
  Tensor bucket;
  for (auto [begin, end] : {std::pair<int64_t, int64_t>{0, 4}, {4, 12}}) {
    Tensor part = slice(rotated, 1, begin, end);
    Tensor b = argmax(concat({part, -part}, 1), 1);
    bucket = bucket.valid() ? bucket * 8 + b : b;
  }
  g.output("bucket", bucket);
  Tensor rows = slice(rotated, 1, 0, 6);
  g.output("product", matmul(reshape(rows, {12, 40}), w));
  g.output("scaled", rows * 2.0);
  verify(g);
  ValueMap feeds;
  feeds["rotated"] = random_tensor({{DType::f64, {2, 12, 40}}, -1, 1}, 1);
  feeds["w"] = random_tensor({{DType::f64, {40, 3}}, -1, 1}, 2);
  int copied = 0;
  std::unique_ptr<Graph> after = rematerialise_shared_views(g, &copied);
  verify(*after);
  EXPECT_EQ(copied, 2);
  KernelGrouping kernels = kernel_grouping(*after, /*elementwise_fusion=*/true);
  int stored_slices = 0;
  for (int id = 0; id < after->size(); ++id) {
    if (after->node(id).op != "slice") continue;
    if (!kernels.fused_away(id)) ++stored_slices;
  }
  EXPECT_EQ(stored_slices, 1);  // the one the GEMM's reshape reads
  ValueMap expected = run_graph(g, feeds), got = run_graph(*after, feeds);
  ASSERT_EQ(got.at("bucket").data, expected.at("bucket").data);
  ASSERT_EQ(got.at("product").data, expected.at("product").data);
  ASSERT_EQ(got.at("scaled").data, expected.at("scaled").data);
}

int64_t planned_peak(const Graph& graph) {
  return plan_memory(graph, {}, {}, kernel_grouping(graph, /*elementwise_fusion=*/true)).arena_bytes;
}

// A layer norm's gradient reads the broadcast statistics again, long after
// the forward: copied, they are computed inside the kernels that read them.
TEST(ViewRematerialisation, LayerNormGradientNoLongerStoresItsStatistics) {
  Graph g("layer_norm");
  g.set_default_float(DType::f32);
  const int64_t rows = 64, columns = 256;
  Tensor x = g.input("x", {DType::f32, {rows, columns}});
  Tensor average = broadcast_to(mean(x, {1}, true), {rows, columns});
  Tensor centred = x - average;
  Tensor scale = broadcast_to(rsqrt(mean(centred * centred, {1}, true) + 1e-6), {rows, columns});
  Tensor normalised = centred * scale;
  Tensor loss = sum_all(normalised * normalised * x);
  std::vector<Tensor> grads = gradients(loss, {x});
  g.output("dx", grads[0]);
  verify(g);
  std::unique_ptr<Graph> after = rematerialise_shared_views(g);
  EXPECT_LT(planned_peak(*after), planned_peak(g));
}

// A Reformer training step: views are copied (the transposes its weight
// gradients read), the planned peak does not go up, and backend_graph()
// leaves no shared view it would copy. (It went down while layer norms
// were spelled with broadcast statistics; since they are row ops, the
// step has none, and the layer-norm test above keeps that case.)
TEST(ViewRematerialisation, ReformerStepPeakDoesNotGoUp) {
  ReformerConfig c = testing::tiny_reformer_config();
  c.attention = {AttentionKind::lsh};
  CompiledStep step = compile_reformer_step(c);
  std::unique_ptr<Graph> before = share_lsh_forward(*expand_all_structured(*step.graph));
  int copied = 0;
  std::unique_ptr<Graph> after = rematerialise_shared_views(*before, &copied);
  EXPECT_GT(copied, 0);
  EXPECT_LE(planned_peak(*after), planned_peak(*before));
  int left = -1;
  rematerialise_shared_views(*backend_graph(*step.graph), &left);
  EXPECT_EQ(left, 0);
  // A copy keeps its view's role: made for a weight gradient's matmul, it
  // must not become a value the program hands out (a persistent slot).
  MemoryPlan plan_before = plan_memory(*before, step.provenance(), {}, kernel_grouping(*before, true));
  MemoryPlan plan_after = plan_memory(*after, step.provenance(), {}, kernel_grouping(*after, true));
  ASSERT_EQ(plan_after.persistent.size(), plan_before.persistent.size());
  for (size_t i = 0; i < plan_after.persistent.size(); ++i) {
    EXPECT_EQ(plan_after.persistent[i].name, plan_before.persistent[i].name);
  }
}

}  // namespace
}  // namespace reforge
