// What training, evaluation, checkpoints and generation drive: a compiled
// model with its parameters and optimizer state, on one of two engines —
// the reference interpreter, or the runtime's Model, which runs native code
// compiled in this process (the JIT's in-memory artifact) or loaded from an
// artifact file alike. The loop in loop.h is written once against
// this.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compiler/interpreter/interpreter.h"
#include "compiler/pipeline/compile.h"
#include "runtime/reforge_runtime.h"
#include "runtime/safetensors.h"

namespace reforge::training {

class ModelSession {
 public:
  virtual ~ModelSession() = default;
  // One training step; the outputs that are not carried (loss, accuracy).
  virtual ValueMap train_step(const ValueMap& batch) = 0;
  // The forward pass with the current parameters: loss, accuracy, logits;
  // only the outputs named in `wanted` when it is not empty (validation
  // reads the loss and accuracy alone: at 64K the logits are 128 MiB as doubles).
  virtual ValueMap forward(const ValueMap& batch, const std::vector<std::string>& wanted = {}) = 0;
  // Every parameter and optimizer state, as bytes of its element type.
  virtual std::vector<runtime::NamedTensor> persistent() const = 0;
  // Overwrites them all, after checking that `values` hold exactly the
  // session's names and types (the Error names the first difference).
  void restore(const std::vector<runtime::NamedTensor>& values);

 protected:
  // The session's persistent values: names and types, in a fixed order.
  virtual std::vector<std::pair<std::string, TensorType>> persistent_types() const = 0;
  virtual void write_persistent(const runtime::NamedTensor& value) = 0;
  // For sessions that wrap another (data_parallel.h).
  static std::vector<std::pair<std::string, TensorType>> persistent_types_of(const ModelSession& s) {
    return s.persistent_types();
  }
  static void write_persistent_of(ModelSession& s, const runtime::NamedTensor& value) { s.write_persistent(value); }
};

// `compiled` is the training step, `planned` its backend plan
// (plan_backend), `forward` the compiled forward graph (compile_forward of
// the evaluation graph). `compiled` and `forward` must outlive the session.
std::unique_ptr<ModelSession> make_interpreter_session(const CompiledStep& compiled, const Graph& forward,
                                                       uint64_t seed);
// `model` (a JIT model or an opened artifact) must outlive the session.
std::unique_ptr<ModelSession> make_artifact_session(runtime::Model& model, uint64_t seed);

}  // namespace reforge::training
