#include "compiler/pipeline/cpu_executable.h"

#include <fmt/format.h>


namespace reforge {

std::unique_ptr<runtime::Code> compile_kernel_code(const std::vector<kir::Kernel>& kernels,
                                                   const CpuBuildOptions& options) {
  if (options.kernel_code) return options.kernel_code(kernels);
  return codegen::CpuJit::compile(kernels, options.codegen);
}

std::unique_ptr<CpuExecutable> CpuExecutable::build(const Graph& graph, const ValueProvenance& provenance,
                                                    const CpuBuildOptions& options) {
  return build(plan_backend(graph, provenance, options.plan, options.elementwise_fusion, cpu_target()), options);
}

std::unique_ptr<CpuExecutable> CpuExecutable::build(BackendPlan planned, const CpuBuildOptions& options) {
  auto e = std::unique_ptr<CpuExecutable>(new CpuExecutable());
  LoweredPlan lowering = lower_planned(std::move(planned));
  e->graph_ = std::move(lowering.graph);
  e->plan_ = std::move(lowering.plan);
  e->lowered_ = std::move(lowering.lowered);
  e->code_ = compile_kernel_code(e->lowered_.kernels, options);
  runtime::Code* code = e->code_.get();
  e->executor_ = std::make_unique<runtime::Executor>(
      e->lowered_.program, [code](const std::string& symbol) { return code->find(symbol); },
      runtime::ExecutorOptions{.threads = options.threads,
                               .pool = options.pool,
                               .slot_memory = options.slot_memory,
                               .arena_memory = options.arena_memory});
  return e;
}

void CpuExecutable::feed(const std::string& name, const HostTensor& value) {
  int slot = executor_->find_slot(name);
  if (slot < 0) throw Error(fmt::format("the program has no input, parameter or state '{}'", name));
  const runtime::Slot& s = executor_->program().slots[slot];
  if (s.type != value.type) {
    throw Error(fmt::format("value fed for '{}' is {}, the graph declares {}", name, type_to_string(value.type),
                            type_to_string(s.type)));
  }
  write_elements(value, executor_->slot_data(slot));
}

HostTensor CpuExecutable::read_slot(const std::string& name) const {
  int slot = executor_->find_slot(name);
  if (slot < 0) throw Error(fmt::format("the program has no persistent value '{}'", name));
  return read_elements(executor_->program().slots[slot].type, executor_->slot_data(slot));
}

HostTensor CpuExecutable::read_output(const std::string& name) const {
  return read_elements(executor_->output_info(name).type, executor_->output(name));
}

}  // namespace reforge
