// Turns a graph with a scalar loss into one whole training step: forward,
// backward (autodiff) and the optimizer update, all as graph ops. The
// step's persistent values (parameters, optimizer moments, the step
// counter) are graph sources whose next values are graph outputs; a runner
// feeds each output back into its source for the next step.
#pragma once

#include <string>
#include <vector>

#include "compiler/autodiff/autodiff.h"
#include "compiler/ir/graph.h"

namespace reforge {

struct OptimizerConfig {
  enum class Kind { sgd, adam };
  Kind kind = Kind::adam;
  double learning_rate = 1e-3;
  double momentum = 0.0;  // SGD only (heavy ball: v = mu v + g; p -= lr v)
  double beta1 = 0.9;     // Adam
  double beta2 = 0.999;
  double epsilon = 1e-8;
  // Decoupled weight decay (AdamW; plain L2 decay for SGD): p -= lr * wd * p.
  double weight_decay = 0.0;
};

struct CarriedValue {
  std::string source;  // name of the param or state node
  std::string next;    // name of the output that holds its next value
};

struct TrainingStep {
  std::string loss_output = "loss";
  std::vector<CarriedValue> carried;
  // The gradient fed to the optimizer for each parameter, named
  // "<param>.gradient" (node names).
  std::vector<std::string> gradients;
  // The optimizer's nodes are this id and the ones after it.
  int first_optimizer_node = -1;
};

// Adds gradient and update nodes for every `param` node of `graph`, plus
// the outputs "loss" and "<param>.next" / "<state>.next".
TrainingStep build_training_step(Graph& graph, Tensor loss, const OptimizerConfig& optimizer,
                                 const AutodiffOptions& autodiff = {});

}  // namespace reforge
