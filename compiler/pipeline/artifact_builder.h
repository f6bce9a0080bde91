// A model becomes a runtime::Artifact — the training step (differentiated,
// optimised, planned, lowered), the forward pass (the same without
// gradients), how each parameter starts, the memory plan, and both
// programs' kernels. lower_artifact() makes everything but the code, which
// both paths share: ahead of time, build_artifact() compiles the kernels
// for one CPU into a shared object that the runtime
// (runtime/reforge_runtime.h) runs without LLVM; in this process, the JIT
// (jit_model.h) compiles them with ORC and the same runtime runs them.
#pragma once

#include <functional>
#include <string>

#include "compiler/autodiff/training_step.h"
#include "compiler/codegen/cpu/llvm_target.h"
#include "compiler/ir/graph.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "runtime/artifact.h"

namespace reforge {

inline constexpr const char* kCompilerVersion = "reforge 0.4.0";

// A one-token decode step for generation (models/decode_step.h): its
// graph, the setup graph that computes its fixed state once, the prefill
// graph whose outputs fill its caches from a whole context, and which of
// its outputs update which cache slot: whole, or one row at the step's
// "position" input.
struct DecodeSource {
  const Graph* step = nullptr;
  const Graph* setup = nullptr;
  const Graph* prefill = nullptr;
  std::vector<runtime::CarriedSlot> carried, carried_rows;
};

struct ArtifactSource {
  std::string model_name;
  runtime::KeyValues config;     // recorded in the manifest
  const Graph* model = nullptr;  // the forward graph with a loss output
  std::string loss_output = "loss";
  OptimizerConfig optimizer;
  const Graph* evaluation = nullptr;     // the forward entry point's graph (outputs as they are), or null
  const DecodeSource* decode = nullptr;  // the "decode", "decode_setup" and "decode_prefill" entry points, or null
};

// Makes the GPU code for a list of kernels (instead of NVRTC).
using CudaCodeMaker = std::function<runtime::CudaCode(const std::vector<kir::Kernel>&)>;

struct ArtifactOptions {
  // "cpu": a shared object for one CPU (`cpu`, see
  // codegen::resolve_cpu_target, at `opt_level`); "cuda": GPU code for
  // sm_<sm> (cubin and PTX) through NVRTC.
  std::string target = "cpu";
  std::string cpu = "native";
  int sm = 90;
  int opt_level = 3;
  CompileOptions compile;
  CpuBuildOptions build;  // planning and fusion (threads and codegen are ignored)
  // "cuda": makes the GPU code instead of NVRTC (tests: the same source
  // built for the host, which the stand-in driver runs).
  CudaCodeMaker cuda_code;
};

// An artifact before code generation: `artifact` has everything but its
// code; `kernels` are every entry point's, symbols prefixed by entry
// ("train_", "forward_"), the training step's first.
struct LoweredArtifact {
  runtime::Artifact artifact;
  std::vector<kir::Kernel> kernels;
  size_t train_kernels = 0;  // how many of `kernels` the training step has
  MemoryPlan train_plan;     // the training step's (as artifact.memory_plan_json)
};

// From a compiled training step and its back-end plan (plan_backend for
// `target`, with `build`'s planning options) and, if not null, a compiled
// forward graph (the "forward" entry point, planned here for `target`)
// and a decode step whose graphs are compiled (compile_forward). The
// manifest is left for the caller.
LoweredArtifact lower_artifact(const CompiledStep& step, BackendPlan planned, const Graph* forward,
                               const CpuBuildOptions& build = {}, const Target& target = cpu_target(),
                               const DecodeSource* decode = nullptr);

// A lowered artifact's GPU code for sm_<sm> — NVRTC's, or `make`'s when
// given (tests: the host build) — and its manifest's machine fields.
void attach_cuda_code(LoweredArtifact& lowered, int sm, const CudaCodeMaker& make = {});

// What a manifest records of the compile options.
runtime::KeyValues compile_options_record(const CompileOptions& compile, const CpuBuildOptions& build);

runtime::Artifact build_artifact(const ArtifactSource& source, const ArtifactOptions& options = {});

}  // namespace reforge
