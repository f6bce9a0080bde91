// `reforge demo`: the whole front half of the pipeline on a small model —
// build it in the DSL, differentiate it into a training step, print its IR,
// and train it under the reference interpreter with progress lines.
#include <fmt/format.h>

#include <cmath>

#include "compiler/autodiff/training_step.h"
#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/trainer.h"
#include "compiler/ir/printer.h"
#include "compiler/ir/verifier.h"
#include "ops/counter_rng.h"
#include "runtime/progress.h"
#include "tools/cli/command.h"

namespace reforge::cli {
namespace {

// Two interleaved spirals: a classic task a linear model cannot solve.
void spiral_batch(int64_t n, uint64_t seed, HostTensor& x, HostTensor& labels) {
  x = HostTensor({DType::f32, {n, 2}});
  labels = HostTensor({DType::i64, {n}});
  for (int64_t i = 0; i < n; ++i) {
    int64_t cls = i % 2;
    double t = 0.5 + 3.0 * ops::counter_uniform(seed, 0, i);
    double angle = t * 2.0 + cls * 3.14159265;
    x[2 * i] = t * std::cos(angle) / 3.5 + 0.03 * ops::counter_normal(seed, 1, i);
    x[2 * i + 1] = t * std::sin(angle) / 3.5 + 0.03 * ops::counter_normal(seed, 2, i);
    labels[i] = static_cast<double>(cls);
  }
  round_to_dtype(x);
}

int run_demo(const std::vector<std::string>& args) {
  Flags flags(args, {{"steps", "300"}, {"batch", "64"}, {"hidden", "32"}, {"lr", "0.02"}, {"print-ir", "true"}});
  int64_t steps = flags.get_int("steps"), batch = flags.get_int("batch"), hidden = flags.get_int("hidden");
  if (steps < 1 || batch < 2 || hidden < 1) throw Error("--steps, --batch and --hidden must be positive (batch >= 2)");

  Graph g("spiral_mlp");
  Tensor x = g.input("x", {DType::f32, {batch, 2}});
  Tensor labels = g.input("labels", {DType::i64, {batch}});
  Tensor h = x;
  for (int layer = 1; layer <= 2; ++layer) {
    auto scope = g.scope(fmt::format("layer{}", layer));
    int64_t in = layer == 1 ? 2 : hidden;
    h = tanh(matmul(h, g.param("w", {in, hidden}, Init::normal(1.0 / std::sqrt(double(in))))) +
             g.param("b", {hidden}, Init::zeros()));
  }
  Tensor logits;
  {
    auto scope = g.scope("head");
    logits = matmul(h, g.param("w", {hidden, 2}, Init::normal(0.1))).named("logits");
  }
  Tensor loss = mean_all(cross_entropy(logits, labels)).named("loss");
  verify(g);
  if (flags.get_bool("print-ir")) fmt::print("== forward graph ==\n{}\n", print_graph(g, {.locations = false}));

  int forward_nodes = g.size();
  TrainingStep step = build_training_step(g, loss, {.learning_rate = flags.get_double("lr")});
  verify(g);
  fmt::print("training step: {} forward nodes, {} nodes with backward and Adam update, {} carried values\n\n",
             forward_nodes, g.size(), step.carried.size());

  InterpreterTrainer trainer(g, step, /*seed=*/1);
  ProgressReporter progress(steps, batch, "examples", std::max<int64_t>(1, steps / 10));
  double loss_value = 0;
  for (int64_t s = 1; s <= steps; ++s) {
    HostTensor xs, ys;
    spiral_batch(batch, static_cast<uint64_t>(s), xs, ys);
    loss_value = trainer.step({{"x", xs}, {"labels", ys}});
    progress.report(s, loss_value);
  }
  fmt::print("\nfinal loss {:.4f} (chance level {:.4f})\n", loss_value, std::log(2.0));
  return 0;
}

const bool registered = [] {
  register_command({"demo", "build, differentiate and train a small model under the reference interpreter", run_demo});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
