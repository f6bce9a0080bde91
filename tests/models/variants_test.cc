// The variants built from blocks (models/variants/): each one's gradients
// against float64 finite differences at a tiny size, and a short training
// run through its registered task whose loss falls. (Compiled against the
// interpreter: tests/backend/training_step_test.)
#include <gtest/gtest.h>

#include <numeric>

#include "compiler/autodiff/training_step.h"
#include "compiler/interpreter/trainer.h"
#include "models/architecture.h"
#include "models/model_registry.h"
#include "models/reformer_step.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

// The registered model `name` shrunk to a finite-difference size: the
// tiny Reformer's shapes, with the variant's structure, attention pattern
// and task-defining fields.
ReformerConfig tiny(const std::string& name) {
  const ReformerConfig& registered = find_model(name).config;
  ReformerConfig c = testing::tiny_reformer_config();
  c.architecture = registered.architecture;
  c.attention = registered.attention;
  c.causal = registered.causal;
  c.ff_gated = registered.ff_gated;
  c.ff_activation = registered.ff_activation;
  c.n_classes = registered.n_classes;
  if (c.n_classes > 0) {
    c.vocab_size = 6;
    c.seq_len = 64;  // the keys-match task's shortest
  }
  return c;
}

// Batch `step` of the variant's task at the tiny size (a language model's
// vocabulary is too small there for bytes: it copies, as duplication),
// floats in `float_type`.
ValueMap batch_of(const std::string& name, const ReformerConfig& c, int64_t step, DType float_type) {
  const bool language_model = c.architecture == kReformerLm;
  ValueMap batch = (language_model ? make_duplication_task(c, 7) : make_task(find_model(name), c, "", 7))->batch(step);
  for (auto& [n, value] : batch) {
    if (is_float(value.dtype())) value.type.dtype = float_type;
  }
  return batch;
}

class Variant : public ::testing::TestWithParam<std::string> {};

TEST_P(Variant, GradientsMatchFiniteDifferences) {
  const std::string name = GetParam();
  ReformerConfig c = tiny(name);
  c.n_layers = 1;
  Graph g;
  g.set_default_float(DType::f64);
  ModelOutputs m = build_model(g, c);
  ValueMap feeds = initial_values(g, 3);
  for (auto& [n, value] : batch_of(name, c, 1, DType::f64)) feeds[n] = value;
  testing::GradientCheckResult r = testing::check_parameter_gradients(g, m.loss, feeds, 1e-6);
  EXPECT_LE(r.max_rel_error, 1e-6) << name << ": " << r.worst;
  EXPECT_GT(r.checked, 60);
}

// Trains the registered model at a small size in the interpreter; the
// mean loss of the last 10 steps must be well under that of the first 10.
TEST_P(Variant, ShortTrainingRunLowersTheLoss) {
  const std::string name = GetParam();
  ReformerConfig c = find_model(name).config;
  c.seq_len = c.n_classes > 0 ? 64 : 32;
  c.chunk_len = 8;
  c.batch = 4;
  c.ff_chunks = 2;
  c.learning_rate = 5e-3;
  std::unique_ptr<Graph> graph = build_reformer_graph(c, name);
  Tensor loss = graph->value(graph->find_output("loss"));
  graph->mutable_outputs().clear();
  TrainingStep step = build_training_step(*graph, loss, reformer_optimizer(c));
  std::unique_ptr<Task> task = make_task(find_model(name), c, c.architecture == kReformerLm ? "builtin" : "", 7);
  InterpreterTrainer trainer(*graph, step, 7);
  std::vector<double> losses;
  for (int64_t s = 1; s <= 120; ++s) losses.push_back(trainer.step(task->batch(s)));
  double first = std::accumulate(losses.begin(), losses.begin() + 10, 0.0) / 10;
  double last = std::accumulate(losses.end() - 10, losses.end(), 0.0) / 10;
  EXPECT_LT(last, 0.7 * first) << name << ": first 10 steps " << first << ", last 10 " << last;
}

INSTANTIATE_TEST_SUITE_P(BuiltFromBlocks, Variant,
                         ::testing::Values("byte-lm-glu", "classifier-lsh", "seq2seq-reverse"), [](const auto& info) {
                           std::string id = info.param;
                           for (char& ch : id) ch = ch == '-' ? '_' : ch;
                           return id;
                         });

TEST(Architecture, AnUnknownNameListsTheRegisteredOnes) {
  ReformerConfig c = testing::tiny_reformer_config();
  c.architecture = "no-such-net";
  try {
    build_reformer_graph(c);
    FAIL() << "built a graph for an unknown architecture";
  } catch (const Error& e) {
    EXPECT_EQ(std::string(e.what()),
              "unknown --architecture 'no-such-net' (registered: lsh-classifier, reformer-lm, reformer-seq2seq)");
  }
}

TEST(Architecture, GatedFeedForwardAddsTheGateParameters) {
  ReformerConfig c = tiny("byte-lm-glu");
  std::unique_ptr<Graph> g = build_reformer_graph(c);
  EXPECT_GE(g->find_node("layer0.ff.w_gate"), 0);
  EXPECT_GE(g->find_node("layer1.ff.b_gate"), 0);
  c.ff_gated = false;
  EXPECT_LT(build_reformer_graph(c)->find_node("layer0.ff.w_gate"), 0);
}

}  // namespace
}  // namespace reforge
