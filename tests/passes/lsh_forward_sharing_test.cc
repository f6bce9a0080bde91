// LSH forward sharing: the gradient that also writes the result gives the
// forward's values bit for bit, the pass replaces the reversible
// recompute's forward in a training step (one forward per layer is left),
// and it refuses a pair whose cotangent depends on the forward — where
// the gradient reads the forward's result instead.
#include "compiler/passes/lsh_forward_sharing.h"

#include <gtest/gtest.h>

#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/verifier.h"
#include "compiler/pipeline/compile.h"
#include "compiler/target/cpu_target.h"
#include "compiler/target/cuda_target.h"
#include "models/reformer_step.h"
#include "tests/testing/built_graph.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/graph_queries.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

using testing::random_tensor;

AttrMap lsh_attrs(bool causal) {
  AttrMap a;
  a.set("chunk_len", int64_t{4});
  a.set("causal", int64_t{causal ? 1 : 0});
  a.set("valid_length", int64_t{14});  // two padded positions
  a.set("buckets_per_round", int64_t{4});
  a.set("paper_mode", int64_t{0});
  a.set("dropout", 0.0);
  a.set("stream", int64_t{0});
  return a;
}

// A recompute-like forward (its result used by `y`) and a gradient on the
// same operands; the cotangent depends on the forward when `dependent`.
using Built = testing::BuiltGraph;
Built attention_and_gradient(bool causal, bool dependent) {
  Built b{std::make_unique<Graph>("pair"), {}};
  Graph& g = *b.graph;
  g.set_default_float(DType::f64);
  const int64_t B = 1, H = 2, L = 16, R = 2, dk = 4, dv = 3;
  Tensor q = g.input("q", {DType::f64, {B, H, L, dk}});
  Tensor v = g.input("v", {DType::f64, {B, H, L, dv}});
  Tensor buckets = g.input("buckets", {DType::i64, {B, H, R, L}});
  Tensor key = g.input("key", {DType::i64, {}});
  Tensor cotangent = g.input("g", {DType::f64, {B, H, L, dv}});
  b.feeds["q"] = random_tensor({{DType::f64, {B, H, L, dk}}, -1, 1}, 1);
  b.feeds["v"] = random_tensor({{DType::f64, {B, H, L, dv}}, -1, 1}, 2);
  b.feeds["buckets"] = random_tensor({{DType::i64, {B, H, R, L}}, 0, 3}, 3);
  b.feeds["key"] = random_tensor({{DType::i64, {}}, 0, 9}, 4);
  b.feeds["g"] = random_tensor({{DType::f64, {B, H, L, dv}}, -1, 1}, 5);
  AttrMap attrs = lsh_attrs(causal);
  Tensor forward = g.add("lsh_attention_fused", {q, v, buckets, key}, attrs, {});
  g.output("y", forward * 2.0 + 1.0);
  if (dependent) cotangent = cotangent * forward;
  Tensor both = g.add("lsh_attention_fused_grad", {q, v, buckets, key, cotangent}, attrs, {});
  g.output("dq", slice(both, 3, 0, dk));
  g.output("dv", slice(both, 3, dk, dk + dv));
  verify(g);
  return b;
}

TEST(LshForwardSharing, SharedGradientGivesTheForwardBitForBit) {
  for (bool causal : {true, false}) {
    Built b = attention_and_gradient(causal, /*dependent=*/false);
    int shared = 0;
    std::unique_ptr<Graph> after = share_lsh_forward(*b.graph, &shared);
    verify(*after);
    EXPECT_EQ(shared, 1);
    EXPECT_EQ(testing::count_ops(*after, "lsh_attention_fused"), 0);
    ValueMap expected = run_graph(*b.graph, b.feeds), got = run_graph(*after, b.feeds);
    for (const char* name : {"y", "dq", "dv"}) {
      ASSERT_EQ(got.at(name).data, expected.at(name).data) << name << (causal ? " causal" : " bidirectional");
    }
  }
}

TEST(LshForwardSharing, LeavesAPairWhoseCotangentNeedsTheForward) {
  Built b = attention_and_gradient(true, /*dependent=*/true);
  int shared = -1;
  std::unique_ptr<Graph> after = share_lsh_forward(*b.graph, &shared);
  EXPECT_EQ(shared, 0);
  EXPECT_EQ(testing::count_ops(*after, "lsh_attention_fused"), 1);
}

// In a reversible training step each layer's backward recomputes attention
// to rebuild its input; after the pass only the forward pass's remain.
TEST(LshForwardSharing, ReversibleStepRunsEachLayersForwardOnceInTheBackward) {
  ReformerConfig c = testing::tiny_reformer_config();
  c.attention = {AttentionKind::lsh};
  c.n_layers = 3;
  ASSERT_TRUE(c.reversible);
  CompiledStep step = compile_reformer_step(c);
  std::unique_ptr<Graph> expanded = backend_graph(*step.graph);
  EXPECT_EQ(testing::count_ops(*expanded, "lsh_attention_fused"), c.n_layers);  // the forward pass
  int with_output = 0;
  for (int id = 0; id < expanded->size(); ++id) {
    const Node& n = expanded->node(id);
    if (n.op == "lsh_attention_fused_grad") with_output += n.attrs.get_int_or("with_output", 0) != 0;
  }
  EXPECT_EQ(with_output, c.n_layers);
}

// A gradient whose cotangent needs the forward (a stored block's) reads
// that forward's rows instead: one more input. The forward writes each
// round's logsumexp after the result; its other reader takes the result's
// columns. The values are unchanged.
TEST(LshGradientReadsForward, GivesAStoredPairsGradientTheForwardsResult) {
  Built b = attention_and_gradient(true, /*dependent=*/true);
  int given = 0;
  std::unique_ptr<Graph> after = give_lsh_gradients_their_forward(*b.graph, &given);
  verify(*after);
  EXPECT_EQ(given, 1);
  const int forward = testing::find_op(*after, "lsh_attention_fused");
  const Node& gradient = after->node(testing::find_op(*after, "lsh_attention_fused_grad"));
  ASSERT_EQ(gradient.inputs.size(), 6u);
  EXPECT_EQ(gradient.inputs[5], forward);
  EXPECT_EQ(after->node(forward).attrs.get_int_or("with_logsumexps", 0), 1);
  EXPECT_EQ(after->node(forward).type.shape, (Shape{1, 2, 16, 3 + 2}));  // dv + R columns
  int result_readers = 0;
  for (int id = 0; id < after->size(); ++id) {
    const Node& n = after->node(id);
    if (id == testing::find_op(*after, "lsh_attention_fused_grad")) continue;
    for (int in : n.inputs) {
      if (in != forward) continue;
      ++result_readers;
      EXPECT_EQ(n.op, "slice");
      EXPECT_EQ(n.type.shape, (Shape{1, 2, 16, 3}));
    }
  }
  EXPECT_EQ(result_readers, 1);
  ValueMap expected = run_graph(*b.graph, b.feeds), got = run_graph(*after, b.feeds);
  for (const char* name : {"y", "dq", "dv"}) ASSERT_EQ(got.at(name).data, expected.at(name).data) << name;
}

TEST(LshGradientReadsForward, LeavesAGradientThatWritesTheResult) {
  Built b = attention_and_gradient(true, /*dependent=*/false);
  std::unique_ptr<Graph> shared = share_lsh_forward(*b.graph);
  int given = -1;
  std::unique_ptr<Graph> after = give_lsh_gradients_their_forward(*shared, &given);
  EXPECT_EQ(given, 0);
}

// Stored blocks run their attention's forward in the forward pass: on the
// CPU each gradient reads it; the CUDA kernels run it themselves.
TEST(LshGradientReadsForward, StoredBlocksGradientsReadTheirForwardOnTheCpu) {
  ReformerConfig c = testing::tiny_reformer_config();
  c.attention = {AttentionKind::lsh};
  c.n_layers = 3;
  CompileOptions options;
  options.stored_blocks = c.n_layers;
  CompiledStep step = compile_reformer_step(c, options);
  auto reading = [](const Graph& g) {
    int count = 0;
    for (int id = 0; id < g.size(); ++id) {
      const Node& n = g.node(id);
      count += n.op == "lsh_attention_fused_grad" && n.inputs.size() == 6;
    }
    return count;
  };
  EXPECT_EQ(reading(*backend_graph(*step.graph, cpu_target())), c.n_layers);
  EXPECT_EQ(reading(*backend_graph(*step.graph, cuda_target())), 0);
}

}  // namespace
}  // namespace reforge
