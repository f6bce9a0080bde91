// Reversible recompute gives the same gradients as ordinary autodiff of the
// same model, in f64 and in f32.
#include "compiler/passes/reversible_recompute.h"

#include <gtest/gtest.h>

#include <cmath>

#include "compiler/autodiff/autodiff.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/verifier.h"
#include "compiler/passes/dead_code_elimination.h"
#include "compiler/passes/expand_structured.h"
#include "models/reformer.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

ReformerConfig config() {
  ReformerConfig c = testing::tiny_reformer_config();
  c.n_layers = 3;
  c.dropout = 0.1;  // dropout must replay identically in the recomputation
  return c;
}

// Gradients of every parameter by name.
ValueMap parameter_gradients(Graph& g, Tensor loss, const AutodiffOptions& options, const ValueMap& feeds) {
  std::vector<Tensor> params = parameters(g);
  std::vector<Tensor> grads = gradients(loss, params, options);
  for (size_t i = 0; i < params.size(); ++i) g.output("d." + params[i].node().name, grads[i]);
  verify(g);
  return run_graph(g, feeds);
}

void expect_same_gradients(DType dtype, double tolerance, int64_t stored_blocks = 0) {
  ReformerConfig c = config();
  Graph recompute("recompute");
  recompute.set_default_float(dtype);
  ReformerModel m = build_reformer(recompute, c);
  std::unique_ptr<Graph> plain = expand_structured(recompute);
  Tensor plain_loss = plain->value(plain->find_node("head.loss"));
  ValueMap feeds = testing::model_feeds(recompute, c, 9);

  std::unique_ptr<Graph> mixed = store_last_blocks(recompute, stored_blocks);
  Tensor mixed_loss = mixed->value(mixed->find_node("head.loss"));
  ValueMap a = parameter_gradients(*mixed, mixed_loss, with_reversible_recompute({}), feeds);
  ValueMap b = parameter_gradients(*plain, plain_loss, {}, feeds);
  ASSERT_EQ(a.size(), b.size());
  for (const auto& [name, value] : a) {
    const HostTensor& other = b.at(name);
    double scale = 0, diff = 0;
    for (int64_t i = 0; i < value.size(); ++i) {
      scale = std::max(scale, std::fabs(other[i]));
      diff = std::max(diff, std::fabs(value[i] - other[i]));
    }
    EXPECT_LE(diff, tolerance * std::max(1.0, scale)) << name;
  }
}

TEST(ReversibleRecompute, GradientsEqualOrdinaryAutodiffInF64) { expect_same_gradients(DType::f64, 1e-10); }

// Reconstruction in f32 differs from the stored activations by rounding;
// over three layers that stays well inside 1e-4 relative.
TEST(ReversibleRecompute, GradientsEqualOrdinaryAutodiffInF32) { expect_same_gradients(DType::f32, 1e-4); }

// Some blocks storing their activations and the others rebuilding: the
// same gradients.
TEST(ReversibleRecompute, MixedStoredAndRebuiltBlocksGiveTheSameGradients) {
  for (int64_t stored : {1, 2, 3}) {
    SCOPED_TRACE(stored);
    expect_same_gradients(DType::f64, 1e-10, stored);
  }
}

// Storing the last blocks expands them (autodiff keeps their
// activations); the others stay reversible and rebuild theirs.
TEST(ReversibleRecompute, StoringTheLastBlocksExpandsThemOnly) {
  Graph g;
  build_reformer(g, config());
  ASSERT_EQ(reconstructing_blocks(g), 3);
  auto block_names = [](const Graph& graph) {
    std::vector<std::string> names;
    for (int id = 0; id < graph.size(); ++id) {
      if (graph.node(id).def->reconstructing_vjp) names.push_back(graph.node(id).name);
    }
    return names;
  };
  const std::vector<std::string> all = block_names(g);
  for (int64_t stored : {0, 1, 2, 3}) {
    std::unique_ptr<Graph> mixed = store_last_blocks(g, stored);
    verify(*mixed);
    EXPECT_EQ(reconstructing_blocks(*mixed), 3 - stored);
    EXPECT_EQ(block_names(*mixed), std::vector<std::string>(all.begin(), all.end() - stored));
  }
  EXPECT_THROW(store_last_blocks(g, 4), Error);
}

TEST(ReversibleRecompute, BackwardNeverReadsAnEarlierBlocksForwardOutput) {
  ReformerConfig c = config();
  Graph g;
  ReformerModel m = build_reformer(g, c);
  std::vector<int> blocks;
  for (int id = 0; id < g.size(); ++id) {
    if (g.node(id).op == "reversible") blocks.push_back(id);
  }
  ASSERT_EQ(blocks.size(), 3u);
  int forward_size = g.size();
  gradients(m.loss, parameters(g), with_reversible_recompute({}));
  // Only the last block's output may be read by backward nodes.
  for (int id = forward_size; id < g.size(); ++id) {
    for (int in : g.node(id).inputs) {
      EXPECT_NE(in, blocks[0]) << g.node(id).name;
      EXPECT_NE(in, blocks[1]) << g.node(id).name;
    }
  }
}

// How many products x . W1 (the feed-forward's first matmul, W1 read in
// place or through a reshape, not transposed as its input gradient reads
// it) the step computes once every structured op is expanded.
int first_feed_forward_products(const Graph& g) {
  auto reads_w1 = [&g](int id) {
    while (g.node(id).op == "reshape") id = g.node(id).inputs[0];
    const std::string& name = g.node(id).name;
    return g.node(id).op == "param" && name.size() >= 5 && name.substr(name.size() - 5) == "ff.w1";
  };
  int n = 0;
  for (int id = 0; id < g.size(); ++id) {
    const Node& node = g.node(id);
    n += node.op == "matmul" && reads_w1(node.inputs[1]);
  }
  return n;
}

// The backward rebuilds a block's second stream from G's (the chunked
// feed-forward's) value and differentiates G at the same chunks: each
// chunk's first matmul runs once there, not once for the value and again
// inside the vjp.
TEST(ReversibleRecompute, BackwardEvaluatesEachFeedForwardChunkOnce) {
  ReformerConfig c = config();
  c.ff_chunks = 4;
  Graph g;
  ReformerModel m = build_reformer(g, c);
  std::vector<Tensor> params = parameters(g);
  std::vector<Tensor> grads = gradients(m.loss, params, with_reversible_recompute({}));
  g.output("loss", m.loss);
  for (size_t i = 0; i < params.size(); ++i) g.output("d." + params[i].node().name, grads[i]);
  std::unique_ptr<Graph> step = eliminate_dead_code(*expand_structured(*eliminate_dead_code(g)));
  verify(*step);
  // Once in the forward pass and once in the backward, per chunk and layer.
  EXPECT_EQ(first_feed_forward_products(*step), 2 * c.ff_chunks * c.n_layers);
}

}  // namespace
}  // namespace reforge
