// The whole Reformer model under the interpreter: reversible blocks,
// chunked feed-forward, axial positions, gradients and learning.
#include "models/reformer.h"

#include <gtest/gtest.h>

#include <cmath>

#include "compiler/autodiff/autodiff.h"
#include "compiler/autodiff/training_step.h"
#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/trainer.h"
#include "compiler/ir/inline_region.h"
#include "compiler/ir/verifier.h"
#include "compiler/passes/expand_structured.h"
#include "models/model_registry.h"
#include "models/tasks.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

using testing::max_difference;
using testing::model_feeds;
using testing::tiny_reformer_config;

TEST(Reformer, BuildsAVerifiedGraphWithScopedNames) {
  Graph g;
  ReformerModel m = build_reformer(g, tiny_reformer_config());
  EXPECT_NO_THROW(verify(g));
  EXPECT_GE(g.find_node("layer0.attn.w_q"), 0);
  EXPECT_GE(g.find_node("layer1.ff.w1"), 0);
  EXPECT_LT(g.find_node("layer1.attn.w_k") - g.find_node("layer1.attn.w_q"), 3);  // local attention has keys
  EXPECT_EQ(g.find_node("layer0.attn.w_k"), -1);                                  // LSH shares QK
  EXPECT_EQ(m.logits.shape(), (Shape{2, 8, 7}));
}

TEST(Reformer, BadConfigsAreRejectedWithWhatToChange) {
  ReformerConfig c = tiny_reformer_config();
  c.n_buckets = 5;
  Graph g;
  try {
    build_reformer(g, c);
    FAIL();
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("--n_buckets must be even"), std::string::npos) << e.what();
  }
  c = tiny_reformer_config();
  c.axial_rows = 2;
  c.axial_cols = 3;
  EXPECT_THROW(c.validate(), Error);
}

TEST(Reformer, ReversibleInputsAreReconstructedFromOutputs) {
  Graph g;
  g.set_default_float(DType::f64);
  ReformerConfig c = tiny_reformer_config();
  build_reformer(g, c);
  // Find the first reversible block and rebuild its inputs from its outputs.
  int block = -1;
  for (int id = 0; id < g.size() && block < 0; ++id) {
    if (g.node(id).op == "reversible") block = id;
  }
  ASSERT_GE(block, 0);
  const Node& n = g.node(block);
  int64_t f_caps = n.attrs.get_int("f_captures");
  std::vector<Tensor> inputs;
  for (int in : n.inputs) inputs.push_back(g.value(in));
  Tensor y = g.value(block);
  Tensor y1 = stream(y, 0), y2 = stream(y, 1);
  std::vector<Tensor> g_args{y1};
  g_args.insert(g_args.end(), inputs.begin() + 1 + f_caps, inputs.end());
  Tensor x2 = y2 - inline_region(g, *n.regions[1], g_args).at(0);
  std::vector<Tensor> f_args{x2};
  f_args.insert(f_args.end(), inputs.begin() + 1, inputs.begin() + 1 + f_caps);
  Tensor x1 = y1 - inline_region(g, *n.regions[0], f_args).at(0);
  g.output("x", inputs[0]);
  g.output("x_rebuilt", stack_streams(x1, x2));
  ValueMap out = run_graph(g, model_feeds(g, c));
  EXPECT_LT(max_difference(out["x"], out["x_rebuilt"]), 1e-12);
}

TEST(Reformer, ReversibleGradientsEqualNonReversibleEvaluation) {
  Graph g;
  g.set_default_float(DType::f64);
  ReformerConfig c = tiny_reformer_config();
  ReformerModel m = build_reformer(g, c);
  g.output("loss", m.loss);
  std::unique_ptr<Graph> flat = expand_structured(g);
  for (int id = 0; id < flat->size(); ++id) {
    ASSERT_NE(flat->node(id).op, "reversible");
    ASSERT_NE(flat->node(id).op, "chunked_map");
  }
  ValueMap feeds = model_feeds(g, c);
  std::vector<ValueMap> results;
  for (Graph* graph : {&g, flat.get()}) {
    std::vector<Tensor> params = parameters(*graph);
    Tensor loss = graph->value(graph->find_output("loss"));
    std::vector<Tensor> grads = gradients(loss, params);
    for (size_t i = 0; i < params.size(); ++i) graph->output("d." + params[i].node().name, grads[i]);
    verify(*graph);
    results.push_back(run_graph(*graph, feeds));
  }
  ASSERT_EQ(results[0].size(), results[1].size());
  int compared = 0;
  for (const auto& [name, value] : results[0]) {
    ASSERT_TRUE(results[1].count(name)) << name;
    EXPECT_LT(max_difference(value, results[1][name]), 1e-12) << name;
    ++compared;
  }
  EXPECT_GT(compared, 20);
}

TEST(Reformer, ChunkedFeedForwardEqualsUnchunked) {
  ReformerConfig c = tiny_reformer_config();
  c.seq_len = 12;
  c.axial_rows = 3;
  c.axial_cols = 4;
  HostTensor reference;
  for (int64_t chunks : {1, 2, 3, 5, 12}) {  // 5 does not divide 12: padded
    c.ff_chunks = chunks;
    Graph g;
    g.set_default_float(DType::f64);
    ReformerModel m = build_reformer(g, c);
    g.output("logits", m.logits);
    HostTensor logits = run_graph(g, model_feeds(g, c)).at("logits");
    if (chunks == 1)
      reference = logits;
    else
      EXPECT_LT(max_difference(logits, reference), 1e-12) << chunks << " chunks";
  }
}

TEST(Reformer, AxialPositionsConcatenateRowAndColumnEmbeddings) {
  ReformerConfig c = tiny_reformer_config();
  c.seq_len = 6;
  c.axial_rows = 2;
  c.axial_cols = 3;
  c.axial_row_width = 3;
  Graph g;
  g.set_default_float(DType::f64);
  Tensor tokens = g.input("tokens", {DType::i64, {1, 6}});
  g.output("x", embed_tokens(g, tokens, c).x);
  ValueMap feeds = initial_values(g, 5);
  feeds["tokens"] = HostTensor({DType::i64, {1, 6}}, {0, 0, 0, 0, 0, 0});
  HostTensor x = run_graph(g, feeds).at("x");
  const HostTensor& table = feeds["embed.tokens"];
  const HostTensor& rows = feeds["embed.axial.rows"];
  const HostTensor& cols = feeds["embed.axial.cols"];
  for (int64_t pos = 0; pos < 6; ++pos) {
    int64_t i = pos / 3, j = pos % 3;
    for (int64_t k = 0; k < 8; ++k) {
      double expected = table[k] + (k < 3 ? rows[i * 3 + k] : cols[j * 5 + (k - 3)]);
      EXPECT_DOUBLE_EQ(x[pos * 8 + k], expected) << pos << "," << k;
    }
  }
}

TEST(Reformer, WholeLayerGradientsMatchFiniteDifferences) {
  ReformerConfig c = tiny_reformer_config();
  c.n_layers = 1;
  c.attention = {AttentionKind::lsh};
  Graph g;
  g.set_default_float(DType::f64);
  ReformerModel m = build_reformer(g, c);
  testing::GradientCheckResult r = testing::check_parameter_gradients(g, m.loss, model_feeds(g, c), 1e-6);
  EXPECT_LE(r.max_rel_error, 1e-6) << r.worst;
  EXPECT_GT(r.checked, 60);
}

double train_duplication(const std::string& model, int64_t steps) {
  const ModelEntry& entry = find_model(model);
  Graph g(model);
  ReformerModel m = build_reformer(g, entry.config);
  TrainingStep step = build_training_step(g, m.loss, {.learning_rate = entry.config.learning_rate});
  auto task = make_duplication_task(entry.config, 1);
  InterpreterTrainer trainer(g, step, 1);
  double loss = 0;
  for (int64_t s = 1; s <= steps; ++s) loss = trainer.step(task->batch(s));
  return loss;
}

// Chance level on the copied half is ln 7 = 1.95 nats.
TEST(Reformer, LshModelLearnsTheDuplicationTask) { EXPECT_LT(train_duplication("duplication", 250), 0.3); }

TEST(Reformer, FullAttentionBaselineLearnsTheDuplicationTask) {
  EXPECT_LT(train_duplication("duplication-full", 150), 0.3);
}

}  // namespace
}  // namespace reforge
