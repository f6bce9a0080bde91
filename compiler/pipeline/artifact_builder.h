// Ahead-of-time compilation: a model becomes a runtime::Artifact — the
// training step (differentiated, optimised, planned, lowered), the forward
// pass (the same without gradients), how each parameter starts, the memory
// plan, and both programs' kernels compiled for one CPU into a shared
// object. The runtime (runtime/reforge_runtime.h) runs it without LLVM.
#pragma once

#include <string>

#include "compiler/autodiff/training_step.h"
#include "compiler/codegen/cpu/llvm_target.h"
#include "compiler/ir/graph.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "runtime/artifact.h"

namespace reforge {

inline constexpr const char* kCompilerVersion = "reforge 0.4.0";

struct ArtifactSource {
  std::string model_name;
  runtime::KeyValues config;     // recorded in the manifest
  const Graph* model = nullptr;  // the forward graph with a loss output
  std::string loss_output = "loss";
  OptimizerConfig optimizer;
  const Graph* evaluation = nullptr;  // the forward entry point's graph (outputs as they are), or null
};

struct ArtifactOptions {
  std::string cpu = "native";  // see codegen::resolve_cpu_target
  int opt_level = 3;
  CompileOptions compile;
  CpuBuildOptions build;  // planning and fusion (threads and codegen are ignored)
};

runtime::Artifact build_artifact(const ArtifactSource& source, const ArtifactOptions& options = {});

}  // namespace reforge
