// The JIT is an in-memory artifact: a lowered artifact (artifact_builder.h)
// whose kernels ORC compiles in this process, run by the same
// runtime::Model that runs an artifact file. There is one engine: arena
// sharing between entry points, parameters shared by name, carrying the
// updates after a step and the inputs' checks are the runtime's, whether
// the code came from LLVM a moment ago or from a file.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compiler/codegen/cpu/cpu_jit.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/kernel/kernel_ir.h"
#include "compiler/pipeline/artifact_builder.h"
#include "runtime/reforge_runtime.h"

namespace reforge {

struct JitModel {
  std::unique_ptr<runtime::Model> model;
  // Owned by `model`: its target and optimised IR (null when the model's
  // code came from elsewhere: CpuBuildOptions::kernel_code).
  const codegen::CpuJit* code = nullptr;
  std::vector<kir::Kernel> kernels;       // every entry point's (--print_kernels)
  size_t train_kernels = 0;               // the training step's, first in `kernels`
};

// Compiles `lowered`'s kernels for this machine and opens the model;
// `name` names it in messages ("<name> (compiled in this process)").
JitModel open_jit_model(LoweredArtifact lowered, const std::string& name, const runtime::OpenOptions& options = {},
                        const codegen::CpuCodegenOptions& codegen = {});

// A compiled training step on the JIT model, driven with the interpreter's
// values as InterpreterTrainer is (tests compare the two): same initial
// values for the same seed, same outputs.
class CpuTrainer {
 public:
  CpuTrainer(const CompiledStep& step, uint64_t seed, const CpuBuildOptions& options = {});
  // With the step's plan_backend() already made.
  CpuTrainer(const CompiledStep& step, BackendPlan planned, uint64_t seed, const CpuBuildOptions& options = {});

  // One step on `batch`; returns every output that is not carried.
  ValueMap run_step(const ValueMap& batch);
  // Writes the batch's values into the training step's inputs (an Error
  // names an input the batch lacks or gives with another type).
  void feed(const ValueMap& batch);
  // The current value of a parameter or optimizer state.
  HostTensor persistent(const std::string& name) const;

  runtime::Model& model() { return *jit_.model; }
  runtime::Executor& executor() { return jit_.model->train_step().executor(); }
  const MemoryPlan& plan() const { return plan_; }

 private:
  MemoryPlan plan_;
  JitModel jit_;
};

}  // namespace reforge
