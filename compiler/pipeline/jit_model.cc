#include "compiler/pipeline/jit_model.h"

#include "compiler/pipeline/entry_values.h"

#include <fmt/format.h>

namespace reforge {

namespace {

JitModel open_model(LoweredArtifact lowered, const std::string& name, const runtime::OpenOptions& options,
                    std::unique_ptr<runtime::Code> code) {
  JitModel out;
  runtime::Artifact& a = lowered.artifact;
  if (a.manifest.model.empty()) a.manifest.model = name;
  if (a.manifest.compiler_version.empty()) a.manifest.compiler_version = kCompilerVersion;
  out.code = dynamic_cast<const codegen::CpuJit*>(code.get());  // null for other code
  out.model = runtime::Model::from_parts(std::move(a), std::move(code), name + " (compiled in this process)", options);
  out.kernels = std::move(lowered.kernels);
  out.train_kernels = lowered.train_kernels;
  return out;
}

}  // namespace

JitModel open_jit_model(LoweredArtifact lowered, const std::string& name, const runtime::OpenOptions& options,
                        const codegen::CpuCodegenOptions& codegen) {
  std::unique_ptr<runtime::Code> code = codegen::CpuJit::compile(lowered.kernels, codegen);
  return open_model(std::move(lowered), name, options, std::move(code));
}

CpuTrainer::CpuTrainer(const CompiledStep& step, uint64_t seed, const CpuBuildOptions& options)
    : CpuTrainer(step,
                 plan_backend(*step.graph, step.provenance(), options.plan, options.elementwise_fusion, cpu_target()),
                 seed, options) {}

CpuTrainer::CpuTrainer(const CompiledStep& step, BackendPlan planned, uint64_t seed, const CpuBuildOptions& options) {
  LoweredArtifact lowered = lower_artifact(step, std::move(planned), nullptr, options);
  plan_ = lowered.train_plan;
  std::unique_ptr<runtime::Code> code = compile_kernel_code(lowered.kernels, options);
  jit_ = open_model(std::move(lowered), step.graph->name(), {.threads = options.threads}, std::move(code));
  jit_.model->initialise(seed);
}

void CpuTrainer::feed(const ValueMap& batch) { set_inputs(jit_.model->train_step(), batch); }

ValueMap CpuTrainer::run_step(const ValueMap& batch) {
  feed(batch);
  jit_.model->step();
  return read_outputs(jit_.model->train_step(), jit_.model->step_results());
}

HostTensor CpuTrainer::persistent(const std::string& name) const {
  const runtime::Model& model = *jit_.model;
  for (const runtime::PersistentInit& p : model.persistent()) {
    if (p.name == name) return read_elements(p.type, model.persistent_data(name).data());
  }
  throw Error(fmt::format("the program has no persistent value '{}'", name));
}

}  // namespace reforge
