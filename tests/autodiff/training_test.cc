// Training-step graphs: the optimizer updates match their formulas, and a
// two-layer MLP trains under the interpreter.
#include <gtest/gtest.h>

#include <cmath>

#include "compiler/autodiff/autodiff.h"
#include "compiler/autodiff/training_step.h"
#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/trainer.h"
#include "compiler/ir/verifier.h"
#include "runtime/kernels/counter_rng.h"

namespace reforge {
namespace {

TEST(Autodiff, FanOutAccumulatesAndIntegersCarryNoGradient) {
  Graph g;
  g.set_default_float(DType::f64);
  Tensor x = g.input("x", {DType::f64, {3}});
  Tensor i = g.input("i", {DType::i64, {3}});
  // y = x*x + 3x + x*cast(i):  dy/dx = 2x + 3 + i
  Tensor loss = sum_all(x * x + 3.0 * x + x * cast(i, DType::f64));
  auto grads = vjp(g, {loss}, {full_like(loss, 1.0)}, {x, i});
  ASSERT_TRUE(grads[0].valid());
  EXPECT_FALSE(grads[1].valid());
  g.output("dx", grads[0]);
  auto out =
      run_graph(g, {{"x", HostTensor({DType::f64, {3}}, {1, 2, 3})}, {"i", HostTensor({DType::i64, {3}}, {5, 6, 7})}});
  EXPECT_EQ(out["dx"].data, (std::vector<double>{10, 13, 16}));
}

TEST(Autodiff, GradientNodesAreNamedAndAttributedToTheForwardLine) {
  Graph g;
  Tensor x = g.input("x", {DType::f32, {2}});
  int line = __LINE__ + 1;
  Tensor y = tanh(x).named("act");
  Tensor grad = gradients(sum_all(y), {x})[0];
  EXPECT_EQ(grad.node().loc.line, line);
  EXPECT_NE(grad.node().name.find("act.grad"), std::string::npos) << grad.node().name;
  EXPECT_NO_THROW(verify(g));
}

TEST(TrainingStep, AdamMatchesItsFormulaOverTwoSteps) {
  Graph g;
  g.set_default_float(DType::f64);
  Tensor w = g.param("w", {2}, Init::constant(0.5));
  Tensor target = g.input("target", {DType::f64, {2}});
  Tensor diff = w - target;
  OptimizerConfig opt{.kind = OptimizerConfig::Kind::adam, .learning_rate = 0.1, .weight_decay = 0.01};
  TrainingStep step = build_training_step(g, sum_all(diff * diff), opt);
  verify(g);
  InterpreterTrainer trainer(g, step, 1);
  HostTensor t({DType::f64, {2}}, {1.0, -2.0});
  double w_ref[2] = {0.5, 0.5}, m[2] = {0, 0}, v[2] = {0, 0};
  for (int s = 1; s <= 2; ++s) {
    trainer.step({{"target", t}});
    for (int k = 0; k < 2; ++k) {
      double grad = 2 * (w_ref[k] - t[k]);
      m[k] = 0.9 * m[k] + 0.1 * grad;
      v[k] = 0.999 * v[k] + 0.001 * grad * grad;
      double mhat = m[k] / (1 - std::pow(0.9, s)), vhat = v[k] / (1 - std::pow(0.999, s));
      w_ref[k] -= 0.1 * (mhat / (std::sqrt(vhat) + 1e-8) + 0.01 * w_ref[k]);
    }
    const HostTensor& w_now = trainer.persistent().at("w");
    EXPECT_NEAR(w_now[0], w_ref[0], 1e-12);
    EXPECT_NEAR(w_now[1], w_ref[1], 1e-12);
  }
}

TEST(TrainingStep, SgdWithMomentumMatchesItsFormula) {
  Graph g;
  g.set_default_float(DType::f64);
  Tensor w = g.param("w", {1}, Init::constant(2.0));
  OptimizerConfig opt{.kind = OptimizerConfig::Kind::sgd, .learning_rate = 0.1, .momentum = 0.9};
  TrainingStep step = build_training_step(g, sum_all(w * w), opt);
  InterpreterTrainer trainer(g, step, 1);
  double w_ref = 2.0, velocity = 0.0;
  for (int s = 0; s < 3; ++s) {
    trainer.step({});
    velocity = 0.9 * velocity + 2 * w_ref;
    w_ref -= 0.1 * velocity;
    EXPECT_NEAR(trainer.persistent().at("w")[0], w_ref, 1e-12);
  }
}

// Two Gaussian-ish blobs per class arranged as XOR: not linearly separable,
// so the hidden layer has to learn.
void make_xor_batch(int n, HostTensor& x, HostTensor& labels) {
  x = HostTensor({DType::f32, {n, 2}});
  labels = HostTensor({DType::i64, {n}});
  for (int i = 0; i < n; ++i) {
    int a = i % 2, b = (i / 2) % 2;
    x[2 * i] = (a ? 1.0 : -1.0) + 0.2 * kernels::counter_normal(3, 0, i);
    x[2 * i + 1] = (b ? 1.0 : -1.0) + 0.2 * kernels::counter_normal(3, 1, i);
    labels[i] = a ^ b;
  }
  round_to_dtype(x);
}

TEST(TrainingStep, TwoLayerMlpLearnsXorWithAdam) {
  const int n = 32;
  Graph g("mlp");
  Tensor x = g.input("x", {DType::f32, {n, 2}});
  Tensor labels = g.input("labels", {DType::i64, {n}});
  Tensor h;
  {
    auto s = g.scope("layer1");
    h = tanh(matmul(x, g.param("w", {2, 16}, Init::normal(0.5))) + g.param("b", {16}, Init::zeros()));
  }
  Tensor logits;
  {
    auto s = g.scope("layer2");
    logits = matmul(h, g.param("w", {16, 2}, Init::normal(0.5))) + g.param("b", {2}, Init::zeros());
  }
  Tensor loss = mean_all(cross_entropy(logits, labels));
  TrainingStep step = build_training_step(g, loss, {.learning_rate = 0.05});
  verify(g);

  HostTensor xs, ys;
  make_xor_batch(n, xs, ys);
  InterpreterTrainer trainer(g, step, /*seed=*/7);
  double first = trainer.step({{"x", xs}, {"labels", ys}}), last = first;
  for (int s = 0; s < 150; ++s) last = trainer.step({{"x", xs}, {"labels", ys}});
  EXPECT_GT(first, 0.5);  // chance level is ln 2 = 0.69
  EXPECT_LT(last, 0.05) << "loss went from " << first << " to " << last;
}

}  // namespace
}  // namespace reforge
