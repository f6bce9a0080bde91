#include "compiler/autodiff/training_step.h"

#include <cmath>

#include "compiler/autodiff/autodiff.h"
#include "compiler/dsl/dsl.h"

namespace reforge {
namespace {

void carry(Graph& graph, TrainingStep& step, Tensor source, Tensor next) {
  std::string output = source.node().name + ".next";
  graph.output(output, next);
  step.carried.push_back({source.node().name, output});
}

}  // namespace

TrainingStep build_training_step(Graph& graph, Tensor loss, const OptimizerConfig& opt,
                                 const AutodiffOptions& autodiff) {
  std::vector<Tensor> params = parameters(graph);
  if (params.empty()) throw Error("build_training_step: the graph has no parameters");

  TrainingStep step;
  graph.output(step.loss_output, loss);
  std::vector<Tensor> grads = gradients(loss, params, autodiff);
  for (size_t i = 0; i < params.size(); ++i) {
    grads[i] = grads[i].named(params[i].node().name + ".gradient");
    step.gradients.push_back(grads[i].node().name);
  }

  step.first_optimizer_node = graph.size();
  auto scope = graph.scope("optimizer");
  TensorType scalar{graph.default_float(), {}};
  Tensor t = graph.state("step", scalar, Init::zeros());
  Tensor t_next = t + 1.0;
  carry(graph, step, t, t_next);
  // Bias corrections 1 - beta^t, with beta^t = exp(t log beta).
  Tensor correction1 = 1.0 - exp(t_next * std::log(opt.beta1));
  Tensor correction2 = 1.0 - exp(t_next * std::log(opt.beta2));

  for (size_t i = 0; i < params.size(); ++i) {
    Tensor p = params[i], g = grads[i];
    const std::string& name = p.node().name;
    Tensor update;
    if (opt.kind == OptimizerConfig::Kind::adam) {
      Tensor m = graph.state(name + ".adam_m", p.type(), Init::zeros());
      Tensor v = graph.state(name + ".adam_v", p.type(), Init::zeros());
      Tensor m_next = opt.beta1 * m + (1.0 - opt.beta1) * g;
      Tensor v_next = opt.beta2 * v + (1.0 - opt.beta2) * (g * g);
      carry(graph, step, m, m_next);
      carry(graph, step, v, v_next);
      update = (m_next / correction1) / (sqrt(v_next / correction2) + opt.epsilon);
    } else if (opt.momentum != 0.0) {
      Tensor velocity = graph.state(name + ".momentum", p.type(), Init::zeros());
      Tensor velocity_next = opt.momentum * velocity + g;
      carry(graph, step, velocity, velocity_next);
      update = velocity_next;
    } else {
      update = g;
    }
    if (opt.weight_decay != 0.0) update = update + opt.weight_decay * p;
    carry(graph, step, p, p - opt.learning_rate * update);
  }
  return step;
}

}  // namespace reforge
