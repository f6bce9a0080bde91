#include "compiler/pipeline/cpu_executable.h"

#include <fmt/format.h>

#include <cstring>
#include <set>

#include "runtime/element_type.h"

namespace reforge {
namespace {

// Converts between the reference representation (doubles) and the element
// type's memory layout.
void store(const HostTensor& t, std::byte* at) {
  runtime::with_element_type(t.dtype(), [&](auto zero) {
    using T = decltype(zero);
    T* out = reinterpret_cast<T*>(at);
    for (int64_t i = 0; i < t.size(); ++i) out[i] = static_cast<T>(t[i]);
  });
}

HostTensor load(const TensorType& type, const std::byte* at) {
  HostTensor t(type);
  runtime::with_element_type(type.dtype, [&](auto zero) {
    using T = decltype(zero);
    const T* in = reinterpret_cast<const T*>(at);
    for (int64_t i = 0; i < t.size(); ++i) t[i] = static_cast<double>(in[i]);
  });
  return t;
}

}  // namespace

std::unique_ptr<CpuExecutable> CpuExecutable::build(const Graph& graph, const ValueProvenance& provenance,
                                                    const CpuBuildOptions& options) {
  auto e = std::unique_ptr<CpuExecutable>(new CpuExecutable());
  e->graph_ = backend_graph(graph);
  KernelGrouping grouping = kernel_grouping(*e->graph_, options.elementwise_fusion);
  e->plan_ = plan_memory(*e->graph_, provenance, options.plan, grouping);
  if (auto conflict = find_plan_conflict(e->plan_)) throw Error("internal error: memory plan conflict: " + *conflict);
  e->lowered_ = lower_program(*e->graph_, e->plan_, grouping);
  e->jit_ = codegen::CpuJit::compile(e->lowered_.kernels, options.codegen);
  codegen::CpuJit* jit = e->jit_.get();
  e->executor_ = std::make_unique<runtime::Executor>(
      e->lowered_.program, [jit](const std::string& symbol) { return jit->find(symbol); }, options.threads);
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
  store(value, executor_->slot_data(slot));
}

HostTensor CpuExecutable::read_slot(const std::string& name) const {
  int slot = executor_->find_slot(name);
  if (slot < 0) throw Error(fmt::format("the program has no persistent value '{}'", name));
  return load(executor_->program().slots[slot].type, executor_->slot_data(slot));
}

HostTensor CpuExecutable::read_output(const std::string& name) const {
  return load(executor_->output_info(name).type, executor_->output(name));
}

CpuTrainer::CpuTrainer(const CompiledStep& step, uint64_t seed, const CpuBuildOptions& options)
    : step_(step.step), executable_(CpuExecutable::build(*step.graph, step.provenance(), options)) {
  for (const auto& [name, value] : initial_values(executable_->graph(), seed)) {
    if (executable_->executor().find_slot(name) >= 0) executable_->feed(name, value);
  }
}

ValueMap CpuTrainer::run_step(const ValueMap& batch) {
  for (const auto& [name, value] : batch) executable_->feed(name, value);
  executable_->run();
  runtime::Executor& ex = executable_->executor();
  std::set<std::string> carried;
  for (const CarriedValue& c : step_.carried) {
    int source = ex.find_slot(c.source);
    if (source < 0) continue;  // a parameter nothing reads
    const runtime::ProgramOutput& next = ex.output_info(c.next);
    std::memcpy(ex.slot_data(source), ex.output(c.next), static_cast<size_t>(next.type.bytes()));
    carried.insert(c.next);
  }
  ValueMap out;
  for (const runtime::ProgramOutput& o : ex.program().outputs) {
    if (!carried.count(o.name)) out[o.name] = executable_->read_output(o.name);
  }
  return out;
}

}  // namespace reforge
