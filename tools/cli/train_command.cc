// `reforge train <model>`: builds a registered model with any config flags,
// compiles its training step (autodiff, reversible recompute, LSH fusion,
// general passes), plans its memory and trains it, printing progress
// (step, loss, tokens/s, ETA). Runs as native code generated through LLVM
// (--backend=llvm, the default) or on the reference interpreter.
#include <fmt/format.h>

#include <chrono>
#include <functional>
#include <map>

#include "compiler/interpreter/trainer.h"
#include "compiler/ir/printer.h"
#include "compiler/ir/verifier.h"
#include "compiler/kernel/kernel_ir.h"
#include "compiler/memory/plan_dump.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "models/model_registry.h"
#include "models/reformer.h"
#include "models/reformer_step.h"
#include "models/tasks.h"
#include "runtime/profile_report.h"
#include "tools/cli/model_flags.h"
#include "tools/cli/training_loop.h"

namespace reforge::cli {
namespace {

const std::map<std::string, std::string> kTrainFlags = {{"steps", "100"},
                                                        {"seed", "1"},
                                                        {"data", ""},
                                                        {"log_every", "10"},
                                                        {"show_config", "true"},
                                                        {"print_ir", "false"},
                                                        {"reversible_recompute", "true"},
                                                        {"lsh_fusion", "true"},
                                                        {"backend", "llvm"},
                                                        {"threads", "0"},
                                                        {"print_kernels", "false"},
                                                        {"profile", "false"}};

// --print_kernels=true prints the kernel IR, =llvm the optimised LLVM IR too.
void print_kernels(const CpuExecutable& e, const std::string& mode) {
  const LoweredProgram& p = e.lowered();
  fmt::print("== {} launches, {} distinct kernels ==\n", p.program.launches.size(), p.kernels.size());
  for (const kir::Kernel& k : p.kernels) fmt::print("{}\n", kir::print_kernel(k));
  if (mode == "llvm") fmt::print("== optimised LLVM IR ==\n{}\n", e.code().llvm_ir());
}

int run_train(const std::vector<std::string>& args) {
  ModelSelection selection = select_model("train", args, kTrainFlags);
  if (selection.help_shown) return 0;
  const ModelEntry& entry = *selection.entry;
  const ReformerConfig& config = selection.config;
  const Flags& flags = selection.flags;
  int64_t steps = flags.get_int("steps");
  if (steps < 1) throw Error("--steps must be at least 1");
  auto seed = static_cast<uint64_t>(flags.get_int("seed"));

  std::unique_ptr<Task> task = entry.task == TaskKind::duplication ? make_duplication_task(config, seed)
                                                                   : make_byte_lm_task(config, flags.get("data"), seed);
  // Backend flags first: a bad value is refused before anything compiles.
  const std::string backend = flags.get("backend");
  if (backend != "llvm" && backend != "interpreter") {
    throw Error("--backend must be llvm or interpreter, got '" + backend + "'");
  }
  const std::string kernels = flags.get("print_kernels");
  if (kernels != "false" && kernels != "true" && kernels != "llvm") {
    throw Error("--print_kernels must be false, true or llvm, got '" + kernels + "'");
  }
  int64_t threads = flags.get_int("threads");
  if (threads < 0 || threads > 1024) throw Error("--threads must be between 0 (all cores) and 1024");

  std::unique_ptr<Graph> model_graph = build_reformer_graph(config, entry.name);
  if (flags.get_bool("print_ir")) {
    fmt::print("== forward graph ==\n{}\n", print_graph(*model_graph, {.locations = false}));
  }
  CompileOptions options{.reversible_recompute = flags.get_bool("reversible_recompute"),
                         .lsh_fusion = flags.get_bool("lsh_fusion")};
  CompiledStep compiled = compile_training_step(*model_graph, "loss", reformer_optimizer(config), options);

  // The step runs natively (llvm) or on the interpreter; the loop below is
  // the same for both.
  std::function<ValueMap(const ValueMap&)> run_step;
  std::unique_ptr<InterpreterTrainer> interpreter;
  std::unique_ptr<CpuTrainer> cpu;
  MemoryPlan interpreter_plan;  // the interpreter runs no plan; shown for comparison
  double compile_seconds = 0;
  if (backend == "interpreter") {
    interpreter = std::make_unique<InterpreterTrainer>(*compiled.graph, compiled.step, seed);
    interpreter_plan = plan_step_memory(compiled);
    run_step = [&](const ValueMap& batch) { return interpreter->run_step(batch); };
  } else {
    CpuBuildOptions build{.threads = static_cast<int>(threads)};
    build.codegen.keep_llvm_ir = kernels == "llvm";
    auto started = std::chrono::steady_clock::now();
    cpu = std::make_unique<CpuTrainer>(compiled, seed, build);
    compile_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    cpu->executable().executor().set_profiling(flags.get_bool("profile"));
    run_step = [&](const ValueMap& batch) { return cpu->run_step(batch); };
  }
  const MemoryPlan& plan = cpu ? cpu->executable().plan() : interpreter_plan;

  int64_t params = 0;
  for (const Tensor& p : parameters(*model_graph)) params += p.type().elements();
  fmt::print("model {}: {} parameters; training step of {} nodes, planned peak {} transient + {} parameters\n",
             entry.name, params, compiled.graph->size(), format_bytes(plan.arena_bytes),
             format_bytes(plan.persistent_bytes(ValueKind::parameter)));
  if (flags.get_bool("show_config")) fmt::print("{}", describe_config(config));
  if (cpu) {
    const CpuExecutable& e = cpu->executable();
    fmt::print("backend llvm: {} launches ({} distinct kernels) for {}, {} threads, compiled in {:.2f}s\n",
               e.lowered().program.launches.size(), e.lowered().kernels.size(), e.code().target(),
               cpu->executable().executor().threads(), compile_seconds);
    if (kernels != "false") print_kernels(e, kernels);
  }
  TrainingRun run = run_training(*task, steps, config.batch * config.seq_len, flags.get_int("log_every"), run_step);
  if (cpu && flags.get_bool("profile")) {
    CpuExecutable& e = cpu->executable();
    fmt::print("{}", runtime::profile_report(e.lowered().program, e.executor().seconds(), steps));
  }
  print_training_summary(run, *task, backend);
  return 0;
}

const bool registered = [] {
  register_command({"train", "train a registered model (reforge train <model> --help lists flags)", run_train});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
