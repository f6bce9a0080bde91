// The compiler's back half for the CPU: a compiled training step (or any
// graph) becomes native code that runs in one arena laid out by the
// memory plan. Structured ops are expanded, elementwise fusion groups and
// the memory plan are computed, the planned graph is lowered to kernels
// and library calls, and the kernels are compiled through LLVM.
#pragma once

#include <cstddef>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include "compiler/codegen/cpu/cpu_jit.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/lower/lower.h"
#include "compiler/memory/memory_plan.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/lowering.h"
#include "runtime/code.h"
#include "runtime/executor.h"

namespace reforge {

struct CpuBuildOptions {
  PlanOptions plan;
  bool elementwise_fusion = true;
  int threads = 0;  // 0: one per hardware thread
  codegen::CpuCodegenOptions codegen;
  // Memory owned elsewhere for some slots (see runtime::ExecutorOptions):
  // a forward pass shares the training step's parameters this way.
  std::function<std::byte*(const runtime::Slot&)> slot_memory;
  runtime::ThreadPool* pool = nullptr;  // run on this pool instead of one of its own
  // An arena owned elsewhere (see runtime::ExecutorOptions::arena_memory).
  std::function<std::byte*(int64_t bytes)> arena_memory;
  // The kernels' code. Empty: LLVM for this CPU (codegen::CpuJit). The
  // CUDA back end's host build (codegen::CudaOnHost) comes in here, so the
  // GPU kernels' numbers are checked by the same tests as the CPU's.
  std::function<std::unique_ptr<runtime::Code>(const std::vector<kir::Kernel>&)> kernel_code;
};

// The kernels' code as `options` asks: its kernel_code, else the CPU JIT.
std::unique_ptr<runtime::Code> compile_kernel_code(const std::vector<kir::Kernel>& kernels,
                                                   const CpuBuildOptions& options);

class CpuExecutable {
 public:
  static std::unique_ptr<CpuExecutable> build(const Graph& graph, const ValueProvenance& provenance,
                                              const CpuBuildOptions& options = {});
  // From a plan already made with plan_backend (options.plan and
  // elementwise_fusion were used there).
  static std::unique_ptr<CpuExecutable> build(BackendPlan planned, const CpuBuildOptions& options = {});

  const Graph& graph() const { return *graph_; }
  const MemoryPlan& plan() const { return plan_; }
  const LoweredProgram& lowered() const { return lowered_; }
  runtime::Executor& executor() { return *executor_; }
  const runtime::Executor& executor() const { return *executor_; }

  // Writes a fed value (input, parameter, state) into its slot, converting
  // from the reference representation; an Error names a wrong name or type.
  void feed(const std::string& name, const HostTensor& value);
  // A persistent slot's value, or a graph output of the last run.
  HostTensor read_slot(const std::string& name) const;
  HostTensor read_output(const std::string& name) const;
  void run() { executor_->run(); }

 private:
  std::unique_ptr<Graph> graph_;
  MemoryPlan plan_;
  LoweredProgram lowered_;
  std::unique_ptr<runtime::Code> code_;
  std::unique_ptr<runtime::Executor> executor_;
};

}  // namespace reforge
