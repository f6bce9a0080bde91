#include "tests/testing/gpu_run.h"

#include <algorithm>
#include <cmath>
#include <limits>

#include "compiler/codegen/cuda/cuda_module.h"
#include "compiler/codegen/cuda/cuda_on_host.h"
#include "compiler/codegen/cuda/cuda_renderer.h"
#include "compiler/interpreter/trainer.h"
#include "compiler/ir/host_tensor.h"
#include "compiler/pipeline/lowering.h"
#include "compiler/target/cuda_target.h"
#include "models/reformer_step.h"
#include "models/tasks.h"
#include "runtime/cuda_library.h"
#include "tests/testing/model_fixtures.h"

namespace reforge::testing {

GpuProgram lower_for_gpu(const Graph& graph, const ValueProvenance& provenance) {
  LoweredPlan l = lower_planned(plan_backend(graph, provenance, {}, true, cuda_target()));
  return {std::move(l.lowered.program), std::move(l.lowered.kernels)};
}

runtime::CudaCode host_cuda_code(const std::vector<kir::Kernel>& kernels) {
  runtime::CudaCode code{.sm = 90, .cubin = codegen::build_cuda_for_host(codegen::render_cuda(kernels))};
  for (const kir::Kernel& k : kernels) code.kernels.push_back(codegen::cuda_kernel_entry(k, /*registers=*/0));
  return code;
}

runtime::CudaCode nvrtc_cuda_code(const std::vector<kir::Kernel>& kernels, int sm) {
  return codegen::compile_cuda_code(kernels, {.sm = sm});
}

bool runs_on_gpu(const runtime::Program& p) {
  for (const runtime::Launch& l : p.launches) {
    if (l.kind == runtime::Launch::Kind::library && !runtime::has_cuda_implementation(l.function)) return false;
  }
  return true;
}

void feed(runtime::CudaExecutor& gpu, const ValueMap& values) {
  for (const auto& [name, value] : values) {
    int slot = gpu.find_slot(name);
    if (slot < 0) throw Error("the GPU program has no slot '" + name + "'");
    std::vector<std::byte> bytes(value.type.bytes());
    write_elements(value, bytes.data());
    gpu.write_slot(slot, bytes.data());
  }
}

HostTensor output(const runtime::CudaExecutor& gpu, const std::string& name) {
  const runtime::ProgramOutput& o = gpu.output_info(name);
  std::vector<std::byte> bytes(o.type.bytes());
  gpu.read_output(name, bytes.data());
  return read_elements(o.type, bytes.data());
}

ValueMap run_on_gpu(const Graph& graph, const ValueMap& feeds, const GpuProgram& g, const runtime::CudaCode& code) {
  runtime::CudaExecutor gpu(g.program, code);
  feed(gpu, feeds);
  gpu.run();
  ValueMap out;
  for (const auto& [name, id] : graph.outputs()) out[name] = output(gpu, name);
  return out;
}

std::vector<std::pair<std::string, ReformerConfig>> gpu_training_step_configs() {
  ReformerConfig local = tiny_reformer_config();
  local.attention = {AttentionKind::local};
  ReformerConfig full = local;
  full.attention = {AttentionKind::full};
  full.reversible = false;
  full.causal = false;
  ReformerConfig padded = local;
  padded.seq_len = 10;  // padded to 12 inside attention
  padded.ff_chunks = 1;
  ReformerConfig lsh = tiny_reformer_config();  // LSH and local layers, causal, reversible
  ReformerConfig lsh_padded = lsh;
  lsh_padded.seq_len = 6;  // padded to 8 inside attention
  lsh_padded.causal = false;
  lsh_padded.ff_chunks = 1;
  return {{"local, reversible", local}, {"full, bidirectional", full}, {"local, padded", padded},
          {"lsh and local, reversible", lsh}, {"lsh, bidirectional, padded", lsh_padded}};
}

double worst_relative_difference(const HostTensor& got, const HostTensor& want) {
  if (got.type != want.type) return std::numeric_limits<double>::infinity();
  double worst = 0;
  for (int64_t i = 0; i < want.size(); ++i) {
    const double d = std::fabs(got[i] - want[i]) / (1 + std::fabs(want[i]));
    worst = std::isnan(d) ? std::numeric_limits<double>::infinity() : std::max(worst, d);
  }
  return worst;
}

double gpu_training_step_difference(ReformerConfig config, const GpuCodeMaker& code) {
  config.learning_rate = 1e-2;  // moves the parameters visibly
  CompiledStep step = compile_reformer_step(config, {}, "reformer", DType::f64);
  GpuProgram g = lower_for_gpu(*step.graph, step.provenance());
  InterpreterTrainer reference(*step.graph, step.step, /*seed=*/5);
  runtime::CudaExecutor gpu(g.program, code(g));
  feed(gpu, reference.persistent());
  ValueMap batch = make_duplication_task(config, 11)->batch(1);
  for (auto& [name, value] : batch) {
    if (is_float(value.dtype())) value.type.dtype = DType::f64;
  }
  feed(gpu, batch);
  gpu.run();
  ValueMap want = reference.run_step(batch);
  double worst = 0;
  for (const auto& [name, value] : want) worst = std::max(worst, worst_relative_difference(output(gpu, name), value));
  for (const CarriedValue& c : step.step.carried) {
    worst = std::max(worst, worst_relative_difference(output(gpu, c.next), reference.persistent().at(c.source)));
  }
  return worst;
}

double op_tolerance(DType dtype, int64_t longest_input) {
  if (dtype == DType::f64) return 1e-12 * (1 + longest_input);
  if (dtype == DType::f32) return std::numeric_limits<float>::epsilon() * (8 + 2 * longest_input);
  return 0.0;
}

}  // namespace reforge::testing
