// LSH fusion: the fused kernel equals the decomposed attention in values
// and gradients (causal or not, padded or not), its gradient matches finite
// differences, the pass rewrites exactly the lsh_attention ops, and after
// it no buffer of the training step holds the all-chunks logits.
#include "compiler/passes/lsh_fusion.h"

#include <gtest/gtest.h>

#include <cmath>

#include "compiler/autodiff/autodiff.h"
#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/parser.h"
#include "compiler/ir/printer.h"
#include "compiler/ir/verifier.h"
#include "compiler/memory/memory_plan.h"
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
  int64_t seq_len, chunk, rounds;
  bool causal;
};

class FusedLsh : public ::testing::TestWithParam<Case> {};

// One LSH attention layer with its input and weights as graph inputs.
std::unique_ptr<Graph> attention_layer(const ReformerConfig& c) {
  auto g = std::make_unique<Graph>("layer");
  g->set_default_float(DType::f64);
  int64_t hd = c.n_heads * c.d_head;
  Tensor x = g->input("x", {DType::f64, {c.batch, c.seq_len, c.d_model}});
  Tensor key = g->input("key", {DType::i64, {}});
  AttentionWeights w{g->input("w_q", {DType::f64, {c.d_model, hd}}), Tensor{},
                     g->input("w_v", {DType::f64, {c.d_model, hd}}), g->input("w_o", {DType::f64, {hd, c.d_model}})};
  Tensor buckets = lsh_buckets(x, w.w_q, {key, 8}, c);
  g->output("y", lsh_attention(x, w, buckets, {key, 8}, c));
  return g;
}

// Adds the gradients of sum(y * r) w.r.t. x and the weights as outputs.
void add_gradients(Graph& g) {
  Tensor y = g.value(g.find_output("y"));
  Tensor r = g.input("r", y.type());
  std::vector<Tensor> wrt;
  for (const char* name : {"x", "w_q", "w_v", "w_o"}) wrt.push_back(g.value(g.find_node(name)));
  std::vector<Tensor> grads = gradients(sum_all(y * r), wrt);
  for (size_t i = 0; i < wrt.size(); ++i) g.output("d." + wrt[i].node().name, grads[i]);
  verify(g);
}

TEST_P(FusedLsh, EqualsDecomposedInValuesAndGradients) {
  const Case& k = GetParam();
  ReformerConfig c;
  c.batch = 2;
  c.seq_len = k.seq_len;
  c.d_model = 6;
  c.n_heads = 2;
  c.d_head = 3;
  c.chunk_len = k.chunk;
  c.n_hashes = k.rounds;
  c.causal = k.causal;
  std::unique_ptr<Graph> decomposed = attention_layer(c);
  int fused_count = 0;
  std::unique_ptr<Graph> fused = fuse_lsh_attention(*decomposed, &fused_count);
  EXPECT_EQ(fused_count, 1);
  for (int id = 0; id < fused->size(); ++id) EXPECT_NE(fused->node(id).op, "lsh_attention");
  add_gradients(*decomposed);
  add_gradients(*fused);

  ValueMap feeds;
  for (const char* name : {"x", "w_q", "w_v", "w_o", "r"}) {
    int id = decomposed->find_node(name);
    feeds[name] = random_tensor({decomposed->node(id).type}, std::hash<std::string>{}(name) % 997);
  }
  feeds["key"] = HostTensor::scalar(DType::i64, 77);
  ValueMap a = run_graph(*decomposed, feeds), b = run_graph(*fused, feeds);
  ASSERT_EQ(a.size(), 5u);
  for (const auto& [name, value] : a) {
    double worst = 0;
    for (int64_t i = 0; i < value.size(); ++i) worst = std::max(worst, std::fabs(value[i] - b.at(name)[i]));
    // Both sides subtract the 1e5 self-mask, where a double's spacing is
    // 1.5e-11; differences in summation order surface at that level.
    EXPECT_LT(worst, 1e-9) << name;
  }
}

INSTANTIATE_TEST_SUITE_P(Configs, FusedLsh,
                         ::testing::Values(Case{"causal", 12, 4, 2, true}, Case{"bidirectional", 12, 4, 3, false},
                                           Case{"padded", 10, 4, 2, true}, Case{"one_chunk_per_round", 8, 8, 2, true}),
                         [](const auto& info) { return info.param.name; });

TEST(FusedLsh, GradientMatchesFiniteDifferences) {
  auto body = [](Graph& g, const std::vector<Tensor>& x) {
    AttrMap attrs;
    attrs.set("chunk_len", int64_t{4});
    attrs.set("causal", int64_t{1});
    attrs.set("valid_length", int64_t{7});
    attrs.set("buckets_per_round", int64_t{5});
    attrs.set("paper_mode", int64_t{0});
    attrs.set("dropout", 0.0);
    attrs.set("stream", int64_t{0});
    Tensor key = constant(g, 3, {DType::i64, {}});
    return g.add("lsh_attention_fused", {x[0], x[1], x[2], key}, attrs, {});
  };
  auto result = testing::check_gradients(
      body,
      {{{DType::f64, {1, 2, 8, 3}}, -1, 1}, {{DType::f64, {1, 2, 8, 2}}, -1, 1}, {{DType::i64, {1, 2, 2, 8}}, 0, 4}},
      11);
  EXPECT_GT(result.checked, 40);
  EXPECT_LT(result.max_rel_error, 1e-6) << result.worst;
}

TEST(LshFusionPass, GoldenRewrite) {
  const std::string in = R"(graph g {
  %q = input() : f32[1,1,4,2]
  %v = input() : f32[1,1,4,2]
  %b = input() : i64[1,1,1,4]
  %k = input() : i64[]
  %a = lsh_attention(%q, %v, %b, %k) {buckets_per_round=3, causal=1, chunk_len=2, dropout=0.0, paper_mode=0, stream=0, valid_length=4} : f32[1,1,4,2] regions {
    graph lsh_attention {
      %a0 = arg() {index=0} : f32[1,1,4,2]
      %a1 = arg() {index=1} : f32[1,1,4,2]
      %a2 = arg() {index=2} : i64[1,1,1,4]
      %a3 = arg() {index=3} : i64[]
      return out=%a1
    }
  }
  %p = lsh_attention(%q, %v, %b, %k) {buckets_per_round=3, causal=1, chunk_len=2, dropout=0.0, paper_mode=1, stream=0, valid_length=4} : f32[1,1,4,2] regions {
    graph lsh_attention {
      %a0 = arg() {index=0} : f32[1,1,4,2]
      %a1 = arg() {index=1} : f32[1,1,4,2]
      %a2 = arg() {index=2} : i64[1,1,1,4]
      %a3 = arg() {index=3} : i64[]
      return out=%a1
    }
  }
  return y=%a, z=%p
}
)";
  std::string out = print_graph(*fuse_lsh_attention(*parse_graph(in)));
  // The trax-mode op is fused; the paper-mode one stays decomposed.
  EXPECT_NE(out.find("  %a = lsh_attention_fused(%q, %v, %b, %k) {buckets_per_round=3, causal=1, chunk_len=2, "
                     "dropout=0.0, paper_mode=0, stream=0, valid_length=4} : f32[1,1,4,2]\n"),
            std::string::npos)
      << out;
  EXPECT_NE(out.find("  %p = lsh_attention(%q, %v, %b, %k)"), std::string::npos) << out;
}

// With the decomposed attention the training step materialises logits of
// every chunk, [B, H, R*L/C, C, 2C]; after fusion no buffer is that large.
TEST(LshFusionPass, NoBufferHoldsTheAllChunksLogits) {
  ReformerConfig c;
  c.vocab_size = 8;
  c.seq_len = 32;
  c.batch = 2;
  c.d_model = 16;
  c.n_heads = 2;
  c.d_head = 8;
  c.d_ff = 32;
  c.n_layers = 2;
  c.chunk_len = 8;
  c.n_hashes = 2;
  const int64_t logits = c.batch * c.n_heads * c.n_hashes * c.seq_len * 2 * c.chunk_len;
  std::unique_ptr<Graph> model = build_reformer_graph(c);
  for (bool fusion : {false, true}) {
    CompiledStep step = compile_training_step(*model, "loss", {}, {.lsh_fusion = fusion});
    MemoryPlan plan = plan_memory(*step.graph, step.provenance());
    const int64_t largest = testing::largest_value_elements(plan);
    if (fusion)
      EXPECT_LT(largest, logits) << "a buffer still holds all chunks' logits";
    else
      EXPECT_GE(largest, logits) << "the decomposed step should materialise the logits (the test must be able to fail)";
  }
}

}  // namespace
}  // namespace reforge
