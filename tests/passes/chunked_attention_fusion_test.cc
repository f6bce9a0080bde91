// Chunked-attention fusion: the fused kernel (flash-attention style) equals
// the decomposed local and full attention in values and gradients —
// causal or not, padded or not, shared-QK or with a key projection,
// lengths that cross its query and key tiles — its gradient matches finite
// differences, and after fusion a full-attention training step holds no
// L x L buffer.
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/autodiff/autodiff.h"
#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/verifier.h"
#include "compiler/memory/memory_plan.h"
#include "compiler/passes/lsh_fusion.h"
#include "compiler/pipeline/compile.h"
#include "models/attention.h"
#include "models/reformer.h"
#include "models/reformer_step.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/graph_queries.h"

namespace reforge {
namespace {

using testing::random_tensor;

struct Case {
  std::string name;
  AttentionKind kind;
  int64_t seq_len, chunk;
  bool causal, key_projection;
};

class FusedChunkedAttention : public ::testing::TestWithParam<Case> {};

// One attention layer with its input and weights as graph inputs.
std::unique_ptr<Graph> attention_layer(const ReformerConfig& c, AttentionKind kind, bool key_projection) {
  auto g = std::make_unique<Graph>("layer");
  g->set_default_float(DType::f64);
  int64_t hd = c.n_heads * c.d_head;
  Tensor x = g->input("x", {DType::f64, {c.batch, c.seq_len, c.d_model}});
  Tensor key = g->input("key", {DType::i64, {}});
  AttentionWeights w{g->input("w_q", {DType::f64, {c.d_model, hd}}),
                     key_projection ? g->input("w_k", {DType::f64, {c.d_model, hd}}) : Tensor{},
                     g->input("w_v", {DType::f64, {c.d_model, hd}}), g->input("w_o", {DType::f64, {hd, c.d_model}})};
  AttentionRandomness rng{key, 8};
  g->output("y", kind == AttentionKind::full ? full_attention(x, w, rng, c) : local_attention(x, w, rng, c));
  return g;
}

// Adds the gradients of sum(y * r) w.r.t. x and the weights as outputs.
std::vector<std::string> add_gradients(Graph& g) {
  Tensor y = g.value(g.find_output("y"));
  Tensor r = g.input("r", y.type());
  std::vector<Tensor> wrt;
  std::vector<std::string> names;
  for (const char* name : {"x", "w_q", "w_k", "w_v", "w_o"}) {
    if (g.find_node(name) < 0) continue;
    wrt.push_back(g.value(g.find_node(name)));
    names.push_back(name);
  }
  std::vector<Tensor> grads = gradients(sum_all(y * r), wrt);
  for (size_t i = 0; i < wrt.size(); ++i) g.output("d." + names[i], grads[i]);
  verify(g);
  return names;
}

TEST_P(FusedChunkedAttention, EqualsDecomposedInValuesAndGradients) {
  const Case& k = GetParam();
  ReformerConfig c;
  c.batch = 2;
  c.seq_len = k.seq_len;
  c.d_model = 6;
  c.n_heads = 2;
  c.d_head = 3;
  c.chunk_len = k.chunk;
  c.causal = k.causal;
  std::unique_ptr<Graph> decomposed = attention_layer(c, k.kind, k.key_projection);
  ASSERT_EQ(testing::count_ops(*decomposed, "chunked_attention"), 1);
  int fused_count = 0;
  std::unique_ptr<Graph> fused = fuse_lsh_attention(*decomposed, &fused_count);
  EXPECT_EQ(fused_count, 1);
  EXPECT_EQ(testing::count_ops(*fused, "chunked_attention"), 0);
  EXPECT_EQ(testing::count_ops(*fused, "chunked_attention_fused"), 1);
  std::vector<std::string> inputs = add_gradients(*decomposed);
  add_gradients(*fused);

  ValueMap feeds;
  inputs.push_back("r");
  for (const std::string& name : inputs) {
    int id = decomposed->find_node(name);
    feeds[name] = random_tensor({decomposed->node(id).type}, std::hash<std::string>{}(name) % 997);
  }
  feeds["key"] = HostTensor::scalar(DType::i64, 77);
  ValueMap a = run_graph(*decomposed, feeds), b = run_graph(*fused, feeds);
  ASSERT_EQ(a.size(), inputs.size());  // y and a gradient per input but r
  for (const auto& [name, value] : a) {
    double worst = 0, scale = 0;
    for (int64_t i = 0; i < value.size(); ++i) {
      worst = std::max(worst, std::fabs(value[i] - b.at(name)[i]));
      scale = std::max(scale, std::fabs(value[i]));
    }
    // Shared-QK sides subtract the 1e5 self-mask, where a double's spacing
    // is 1.5e-11; the running softmax sums in another order.
    EXPECT_LT(worst, 1e-9 * std::max(1.0, scale)) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, FusedChunkedAttention,
                         ::testing::Values(Case{"local_causal", AttentionKind::local, 12, 4, true, false},
                                           Case{"local_bidirectional", AttentionKind::local, 12, 4, false, false},
                                           Case{"local_padded_key_projection", AttentionKind::local, 10, 4, true, true},
                                           Case{"local_one_chunk", AttentionKind::local, 8, 8, true, false},
                                           Case{"full_causal", AttentionKind::full, 12, 4, true, false},
                                           Case{"full_bidirectional_key_projection", AttentionKind::full, 9, 4, false,
                                                true},
                                           // Longer than a query tile (64) and a key tile (128).
                                           Case{"full_causal_across_tiles", AttentionKind::full, 150, 4, true, false},
                                           Case{"local_across_tiles", AttentionKind::local, 300, 150, true, true}),
                         [](const auto& info) { return info.param.name; });

TEST(FusedChunkedAttention, GradientMatchesFiniteDifferences) {
  for (int64_t look_back : {0, 1}) {
    auto body = [look_back](Graph& g, const std::vector<Tensor>& x) {
      AttrMap attrs;
      attrs.set("chunk_len", int64_t{4});
      attrs.set("look_back", look_back);
      attrs.set("causal", int64_t{1});
      attrs.set("mask_self", int64_t{0});
      attrs.set("valid_length", int64_t{7});
      attrs.set("dropout", 0.0);
      attrs.set("stream", int64_t{0});
      Tensor key = constant(g, 3, {DType::i64, {}});
      return g.add("chunked_attention_fused", {x[0], x[1], x[2], key}, attrs, {});
    };
    auto result = testing::check_gradients(
        body,
        {{{DType::f64, {1, 2, 8, 3}}, -1, 1}, {{DType::f64, {1, 2, 8, 3}}, -1, 1}, {{DType::f64, {1, 2, 8, 2}}, -1, 1}},
        13 + look_back);
    EXPECT_GT(result.checked, 60);
    EXPECT_LT(result.max_rel_error, 1e-6) << result.worst;
  }
}

// Full attention's decomposition materialises the logits, [B, H, 1, L, L];
// after fusion no buffer of the training step is that large.
TEST(FusedChunkedAttention, FullAttentionStepHoldsNoLByLBuffer) {
  ReformerConfig c;
  c.vocab_size = 8;
  c.seq_len = 64;
  c.batch = 1;
  c.d_model = 8;
  c.n_heads = 2;
  c.d_head = 4;
  c.d_ff = 16;
  c.n_layers = 2;
  c.attention = {AttentionKind::full};
  const int64_t logits = c.batch * c.n_heads * c.seq_len * c.seq_len;
  std::unique_ptr<Graph> model = build_reformer_graph(c);
  for (bool fusion : {false, true}) {
    CompiledStep step = compile_training_step(*model, "loss", {}, {.lsh_fusion = fusion});
    MemoryPlan plan = plan_memory(*step.graph, step.provenance());
    const int64_t largest = testing::largest_value_elements(plan);
    if (fusion)
      EXPECT_LT(largest, logits) << "a buffer still holds the L x L logits";
    else
      EXPECT_GE(largest, logits) << "the decomposed step should materialise the logits (the test must be able to fail)";
  }
}

}  // namespace
}  // namespace reforge
