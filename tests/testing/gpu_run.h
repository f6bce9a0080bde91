// Running graphs on the GPU executor in tests and checks: a graph planned
// and lowered for the CUDA target, its code (NVRTC's for a real GPU, or the
// host build a stand-in driver loads), and the interpreter's values in and
// out of a runtime::CudaExecutor.
#pragma once

#include <functional>
#include <string>
#include <utility>
#include <vector>

#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/graph.h"
#include "compiler/kernel/kernel_ir.h"
#include "compiler/memory/memory_plan.h"
#include "models/reformer_config.h"
#include "runtime/cuda_executor.h"

namespace reforge::testing {

struct GpuProgram {
  runtime::Program program;
  std::vector<kir::Kernel> kernels;
};

GpuProgram lower_for_gpu(const Graph& graph, const ValueProvenance& provenance = {});

// The artifact's CUDA code with the host build of the translation unit in
// place of the cubin (what tests/runtime/fake_cuda_driver.cc loads), or
// NVRTC's for GPU `sm`.
runtime::CudaCode host_cuda_code(const std::vector<kir::Kernel>& kernels);
runtime::CudaCode nvrtc_cuda_code(const std::vector<kir::Kernel>& kernels, int sm);

// Whether every library call of the program has a GPU implementation.
bool runs_on_gpu(const runtime::Program& program);

void feed(runtime::CudaExecutor& gpu, const ValueMap& values);
HostTensor output(const runtime::CudaExecutor& gpu, const std::string& name);

// Every output of `graph`, run once on a new executor.
ValueMap run_on_gpu(const Graph& graph, const ValueMap& feeds, const GpuProgram& program,
                    const runtime::CudaCode& code);

// Training-step configurations the GPU checks run, by name: local, full
// and LSH attention, reversible or not, causal or not, padded.
std::vector<std::pair<std::string, ReformerConfig>> gpu_training_step_configs();

// One Adam step of `config`'s training step (in f64, from the interpreter's
// initial values for seed 5) on the GPU executor with `code`, against the
// interpreter: the largest relative difference over the loss, the metrics
// and every updated parameter and moment (infinity when a type differs).
using GpuCodeMaker = std::function<runtime::CudaCode(const GpuProgram&)>;
double gpu_training_step_difference(ReformerConfig config, const GpuCodeMaker& code);

// The largest |got - want| / (1 + |want|), or infinity when the types
// differ or a difference is NaN.
double worst_relative_difference(const HostTensor& got, const HostTensor& want);

// The op-equivalence table's bound on |got - want| / (1 + |want|): f64 and
// f32 rounding grow with the longest input; integers are exact.
double op_tolerance(DType dtype, int64_t longest_input);

}  // namespace reforge::testing
