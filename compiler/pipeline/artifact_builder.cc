#include "compiler/pipeline/artifact_builder.h"

#include <fmt/format.h>

#include "compiler/codegen/cpu/cpu_object.h"
#include "compiler/codegen/cuda/cuda_module.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/memory/plan_dump.h"
#include "compiler/target/cuda_target.h"

namespace reforge {
namespace {

// The kernels of every entry point go into one shared object: each
// program's symbols get its own prefix.
void prefix_symbols(LoweredProgram& lowered, const std::string& prefix) {
  for (kir::Kernel& k : lowered.kernels) k.name = prefix + k.name;
  for (runtime::Launch& l : lowered.program.launches) {
    if (l.kind == runtime::Launch::Kind::kernel) l.function = prefix + l.function;
    if (!l.epilogue.empty()) l.epilogue = prefix + l.epilogue;
  }
}

}  // namespace

runtime::KeyValues compile_options_record(const CompileOptions& compile, const CpuBuildOptions& build) {
  auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
  return {{"reversible_recompute", flag(compile.reversible_recompute)},
          {"stored_blocks", std::to_string(compile.stored_blocks)},
          {"lsh_fusion", flag(compile.lsh_fusion)},
          {"simplify", flag(compile.simplify)},
          {"cse", flag(compile.cse)},
          {"dce", flag(compile.dce)},
          {"elementwise_fusion", flag(build.elementwise_fusion)},
          {"buffer_reuse", flag(build.plan.buffer_reuse)}};
}

LoweredArtifact lower_artifact(const CompiledStep& step, BackendPlan planned, const Graph* forward,
                               const CpuBuildOptions& build, const Target& target, const DecodeSource* decode) {
  LoweredArtifact out;
  runtime::Artifact& a = out.artifact;
  LoweredPlan train = lower_planned(std::move(planned));
  prefix_symbols(train.lowered, "train_");
  a.persistent = persistent_values(*train.graph);
  a.memory_plan_json = plan_to_json(train.plan);
  out.train_plan = std::move(train.plan);
  runtime::EntryPoint& train_entry = a.entries.emplace_back();
  train_entry.name = "train_step";
  train_entry.program = std::move(train.lowered.program);
  for (const CarriedValue& c : step.step.carried) {
    bool has_slot = false;
    for (const runtime::Slot& s : train_entry.program.slots) has_slot = has_slot || s.name == c.source;
    if (has_slot) train_entry.carried.push_back({c.next, c.source});  // else: a parameter nothing reads
  }
  out.kernels = std::move(train.lowered.kernels);
  out.train_kernels = out.kernels.size();

  // Another entry point: `graph` planned for the target, its kernels
  // prefixed "<name>_", its carried values kept where it has the slot.
  auto add_entry = [&](const std::string& name, const Graph& graph, const ValueProvenance& provenance,
                       const std::vector<runtime::CarriedSlot>& carried,
                       const std::vector<runtime::CarriedSlot>& carried_rows) {
    LoweredPlan lowered = lower_planned(plan_backend(graph, provenance, build.plan, build.elementwise_fusion, target));
    prefix_symbols(lowered.lowered, name + "_");
    runtime::EntryPoint& entry = a.entries.emplace_back();
    entry.name = name;
    entry.program = std::move(lowered.lowered.program);
    auto has_slot = [&](const std::string& slot) {
      for (const runtime::Slot& s : entry.program.slots) {
        if (s.name == slot) return true;
      }
      return false;
    };
    for (const runtime::CarriedSlot& c : carried) {
      if (has_slot(c.slot)) entry.carried.push_back(c);
    }
    for (const runtime::CarriedSlot& c : carried_rows) {
      if (has_slot(c.slot)) entry.carried_rows.push_back(c);
    }
    out.kernels.insert(out.kernels.end(), lowered.lowered.kernels.begin(), lowered.lowered.kernels.end());
  };
  if (forward) add_entry("forward", *forward, {}, {}, {});
  if (decode) {
    ValueProvenance caches;
    for (const auto* list : {&decode->carried, &decode->carried_rows}) {
      for (const runtime::CarriedSlot& c : *list) caches.update_outputs.insert(c.next);
    }
    add_entry("decode", *decode->step, caches, decode->carried, decode->carried_rows);
    if (!decode->setup->outputs().empty()) add_entry("decode_setup", *decode->setup, {}, {}, {});
    add_entry("decode_prefill", *decode->prefill, {}, {}, {});
  }
  return out;
}

void attach_cuda_code(LoweredArtifact& lowered, int sm, const CudaCodeMaker& make) {
  runtime::Artifact& a = lowered.artifact;
  a.cuda = make ? make(lowered.kernels) : codegen::compile_cuda_code(lowered.kernels, {.sm = sm});
  a.manifest.triple = "nvptx64-nvidia-cuda";
  a.manifest.cpu = fmt::format("sm_{}", sm);
}

runtime::Artifact build_artifact(const ArtifactSource& source, const ArtifactOptions& options) {
  if (!source.model) throw Error("build_artifact: no model graph");
  if (options.target != "cpu" && options.target != "cuda") {
    throw Error("the target must be cpu or cuda, got '" + options.target + "'");
  }
  const bool cuda = options.target == "cuda";
  CompiledStep step = compile_training_step(*source.model, source.loss_output, source.optimizer, options.compile);
  BackendPlan planned = plan_backend(*step.graph, step.provenance(), options.build.plan,
                                     options.build.elementwise_fusion, cuda ? cuda_target() : cpu_target());
  std::unique_ptr<Graph> forward = source.evaluation ? compile_forward(*source.evaluation, options.compile) : nullptr;
  std::unique_ptr<Graph> decode_step, decode_setup, decode_prefill;
  DecodeSource decode;
  if (source.decode) {
    decode_step = compile_forward(*source.decode->step, options.compile);
    decode_setup = compile_forward(*source.decode->setup, options.compile);
    decode_prefill = compile_forward(*source.decode->prefill, options.compile);
    decode = {decode_step.get(), decode_setup.get(), decode_prefill.get(), source.decode->carried,
              source.decode->carried_rows};
  }
  LoweredArtifact lowered = lower_artifact(step, std::move(planned), forward.get(), options.build,
                                           cuda ? cuda_target() : cpu_target(), source.decode ? &decode : nullptr);
  runtime::Artifact& a = lowered.artifact;
  a.manifest = {.compiler_version = kCompilerVersion,
                .model = source.model_name,
                .config = source.config,
                .compile_options = compile_options_record(options.compile, options.build),
                .opt_level = options.opt_level};
  if (cuda) {
    attach_cuda_code(lowered, options.sm, options.cuda_code);
    return std::move(a);
  }
  codegen::CpuTarget target = codegen::resolve_cpu_target(options.cpu);
  a.manifest.triple = target.triple;
  a.manifest.cpu = target.cpu;
  a.manifest.cpu_features = target.features;
  a.manifest.required_features = target.required;
  a.code = codegen::compile_shared_object(lowered.kernels, target, options.opt_level);
  return std::move(a);
}

}  // namespace reforge
