// `reforge train <model>`: builds a registered model with any config flags,
// compiles its training step (autodiff, reversible recompute, LSH fusion,
// general passes), plans its memory and trains it, printing progress
// (step, loss, tokens/s, ETA). Runs as native code generated through LLVM
// (--backend=llvm, the default) or on the reference interpreter.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
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
#include "runtime/progress.h"
#include "tools/cli/model_flags.h"

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

// The two ways to run a step: one interface, so the loop below is shared.
class StepRunner {
 public:
  virtual ~StepRunner() = default;
  virtual ValueMap run_step(const ValueMap& batch) = 0;
};

class InterpreterRunner : public StepRunner {
 public:
  InterpreterRunner(const CompiledStep& c, uint64_t seed) : trainer_(*c.graph, c.step, seed) {}
  ValueMap run_step(const ValueMap& batch) override { return trainer_.run_step(batch); }

 private:
  InterpreterTrainer trainer_;
};

class CpuRunner : public StepRunner {
 public:
  CpuRunner(const CompiledStep& c, uint64_t seed, const CpuBuildOptions& options) : trainer_(c, seed, options) {}
  ValueMap run_step(const ValueMap& batch) override { return trainer_.run_step(batch); }
  CpuExecutable& executable() { return trainer_.executable(); }
  const CpuExecutable& executable() const { return trainer_.executable(); }

 private:
  CpuTrainer trainer_;
};

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
  std::unique_ptr<Graph> model_graph = build_reformer_graph(config, entry.name);
  if (flags.get_bool("print_ir")) {
    fmt::print("== forward graph ==\n{}\n", print_graph(*model_graph, {.locations = false}));
  }
  CompileOptions options{.reversible_recompute = flags.get_bool("reversible_recompute"),
                         .lsh_fusion = flags.get_bool("lsh_fusion")};
  CompiledStep compiled = compile_training_step(*model_graph, "loss", reformer_optimizer(config), options);
  MemoryPlan plan = plan_step_memory(compiled);

  int64_t params = 0;
  for (const Tensor& p : parameters(*model_graph)) params += p.type().elements();
  fmt::print("model {}: {} parameters; training step of {} nodes, planned peak {} transient + {} parameters\n",
             entry.name, params, compiled.graph->size(), format_bytes(plan.arena_bytes),
             format_bytes(plan.persistent_bytes(ValueKind::parameter)));
  if (flags.get_bool("show_config")) fmt::print("{}", describe_config(config));

  const std::string backend = flags.get("backend");
  std::unique_ptr<StepRunner> runner;
  CpuRunner* cpu_runner = nullptr;
  if (backend == "interpreter") {
    runner = std::make_unique<InterpreterRunner>(compiled, seed);
  } else if (backend == "llvm") {
    const std::string kernels = flags.get("print_kernels");
    if (kernels != "false" && kernels != "true" && kernels != "llvm") {
      throw Error("--print_kernels must be false, true or llvm, got '" + kernels + "'");
    }
    int64_t threads = flags.get_int("threads");
    if (threads < 0 || threads > 1024) throw Error("--threads must be between 0 (all cores) and 1024");
    CpuBuildOptions options{.threads = static_cast<int>(threads)};
    options.codegen.keep_llvm_ir = kernels == "llvm";
    auto started = std::chrono::steady_clock::now();
    auto cpu = std::make_unique<CpuRunner>(compiled, seed, options);
    double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
    const CpuExecutable& e = cpu->executable();
    fmt::print("backend llvm: {} launches ({} distinct kernels) for {}, {} threads, compiled in {:.2f}s; arena {}\n",
               e.lowered().program.launches.size(), e.lowered().kernels.size(), e.code().target(),
               cpu->executable().executor().threads(), seconds, format_bytes(e.plan().arena_bytes));
    if (kernels != "false") print_kernels(e, kernels);
    cpu->executable().executor().set_profiling(flags.get_bool("profile"));
    cpu_runner = cpu.get();
    runner = std::move(cpu);
  } else {
    throw Error("--backend must be llvm or interpreter, got '" + backend + "'");
  }
  ProgressReporter progress(steps, config.batch * config.seq_len, "tokens", flags.get_int("log_every"));
  ValueMap last;
  std::vector<double> step_seconds;
  for (int64_t s = 1; s <= steps; ++s) {
    ValueMap batch = task->batch(s);
    auto started = std::chrono::steady_clock::now();
    last = runner->run_step(batch);
    step_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    progress.report(s, last.at("loss")[0]);
  }
  if (cpu_runner && flags.get_bool("profile")) {
    CpuExecutable& e = cpu_runner->executable();
    fmt::print("{}", runtime::profile_report(e.lowered().program, e.executor().seconds(), steps));
  }
  std::sort(step_seconds.begin(), step_seconds.end());
  fmt::print("step time: median {:.3f}s, fastest {:.3f}s over {} steps ({} backend)\n",
             step_seconds[step_seconds.size() / 2], step_seconds.front(), step_seconds.size(), backend);
  double loss = last.at("loss")[0];
  fmt::print("final loss {:.4f} {} ({:.3f} bits), accuracy {:.1f}%\n", loss, task->loss_unit(), loss / std::log(2.0),
             100.0 * last.at("accuracy")[0]);
  return 0;
}

const bool registered = [] {
  register_command({"train", "train a registered model (reforge train <model> --help lists flags)", run_train});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
