// Runs a training-step graph (see compiler/autodiff/training_step.h) under
// the reference interpreter: keeps the persistent values, feeds a batch,
// carries each "<source>.next" output back into its source.
#pragma once

#include <cstdint>

#include "compiler/autodiff/training_step.h"
#include "compiler/interpreter/interpreter.h"

namespace reforge {

class InterpreterTrainer {
 public:
  InterpreterTrainer(const Graph& graph, TrainingStep step, uint64_t seed, InterpreterOptions options = {});

  // One step on `batch` (the graph's inputs by name); returns the loss.
  double step(const ValueMap& batch) { return run_step(batch).at(step_.loss_output)[0]; }
  // One step; returns every output that is not carried (loss and metrics).
  ValueMap run_step(const ValueMap& batch);

  const ValueMap& persistent() const { return persistent_; }
  // Parameters and optimizer state, e.g. restored from a checkpoint.
  ValueMap& mutable_persistent() { return persistent_; }

 private:
  const Graph& graph_;
  TrainingStep step_;
  InterpreterOptions options_;
  ValueMap persistent_;
};

}  // namespace reforge
