#include "compiler/pipeline/artifact_builder.h"

#include <fmt/format.h>

#include "compiler/codegen/cpu/cpu_object.h"
#include "compiler/interpreter/interpreter.h"
#include "compiler/memory/plan_dump.h"

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

runtime::KeyValues compile_options_record(const ArtifactOptions& o) {
  auto flag = [](bool b) { return std::string(b ? "true" : "false"); };
  return {{"reversible_recompute", flag(o.compile.reversible_recompute)},
          {"lsh_fusion", flag(o.compile.lsh_fusion)},
          {"simplify", flag(o.compile.simplify)},
          {"cse", flag(o.compile.cse)},
          {"dce", flag(o.compile.dce)},
          {"elementwise_fusion", flag(o.build.elementwise_fusion)},
          {"buffer_reuse", flag(o.build.plan.buffer_reuse)}};
}

}  // namespace

runtime::Artifact build_artifact(const ArtifactSource& source, const ArtifactOptions& options) {
  if (!source.model) throw Error("build_artifact: no model graph");
  codegen::CpuTarget target = codegen::resolve_cpu_target(options.cpu);
  runtime::Artifact a;
  a.manifest = {.compiler_version = kCompilerVersion,
                .model = source.model_name,
                .config = source.config,
                .compile_options = compile_options_record(options),
                .triple = target.triple,
                .cpu = target.cpu,
                .cpu_features = target.features,
                .required_features = target.required,
                .opt_level = options.opt_level};

  CompiledStep step = compile_training_step(*source.model, source.loss_output, source.optimizer, options.compile);
  CpuLowering train = lower_for_cpu(*step.graph, step.provenance(), options.build);
  prefix_symbols(train.lowered, "train_");
  a.persistent = persistent_values(*train.graph);
  a.memory_plan_json = plan_to_json(train.plan);
  runtime::EntryPoint& train_entry = a.entries.emplace_back();
  train_entry.name = "train_step";
  train_entry.program = train.lowered.program;
  for (const CarriedValue& c : step.step.carried) {
    bool has_slot = false;
    for (const runtime::Slot& s : train_entry.program.slots) has_slot = has_slot || s.name == c.source;
    if (has_slot) train_entry.carried.push_back({c.next, c.source});  // else: a parameter nothing reads
  }
  std::vector<kir::Kernel> kernels = train.lowered.kernels;

  if (source.evaluation) {
    std::unique_ptr<Graph> forward = compile_forward(*source.evaluation, options.compile);
    CpuLowering lowered = lower_for_cpu(*forward, {}, options.build);
    prefix_symbols(lowered.lowered, "forward_");
    a.entries.push_back({.name = "forward", .program = lowered.lowered.program, .carried = {}});
    kernels.insert(kernels.end(), lowered.lowered.kernels.begin(), lowered.lowered.kernels.end());
  }
  a.code = codegen::compile_shared_object(kernels, target, options.opt_level);
  return a;
}

}  // namespace reforge
