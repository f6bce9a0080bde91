// `reforge train <model>`: builds a registered model with any config flags,
// compiles its training step (autodiff, reversible recompute, LSH fusion,
// general passes) and its forward pass, and trains it on its task: live
// progress, validation against the task's baseline, checkpoints in a run
// directory, exact resume, samples at the end (training/loop.h). Runs as
// native code generated through LLVM (--backend=llvm, the default) or on
// the reference interpreter.
#include <fmt/format.h>

#include <chrono>
#include <map>

#include "compiler/codegen/cuda/cuda_renderer.h"
#include "compiler/codegen/cuda/nvrtc_compiler.h"
#include "compiler/ir/printer.h"
#include "compiler/kernel/kernel_ir.h"
#include "compiler/memory/plan_dump.h"
#include "compiler/pipeline/artifact_builder.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/jit_model.h"
#include "compiler/target/cuda_target.h"
#include "models/model_registry.h"
#include "models/reformer_artifact.h"
#include "models/reformer_step.h"
#include "models/tasks.h"
#include "runtime/cuda_driver.h"
#include "runtime/gemm.h"
#include "runtime/process_memory.h"
#include "runtime/profile_report.h"
#include "tools/cli/model_flags.h"
#include "tools/cli/ranks.h"
#include "training/data_parallel.h"
#include "training/session.h"
#include "tools/cli/training_flags.h"
#include "training/loop.h"

namespace reforge::cli {
namespace {

const std::map<std::string, std::string>& train_flags() {
  static const std::map<std::string, std::string> flags = [] {
    std::map<std::string, std::string> f = training_flag_defaults();
    f.insert(compile_flag_defaults().begin(), compile_flag_defaults().end());
    f.insert({{"show_config", "true"},
              {"print_ir", "false"},
              {"backend", "llvm"},
              {"device", "cpu"},
              {"print_kernels", "false"}});
    return f;
  }();
  return flags;
}

// --print_kernels=true prints the training step's kernel IR, =llvm the
// optimised LLVM IR too (=cuda: print_cuda_kernels).
void print_kernels(const JitModel& jit, const std::string& mode) {
  const runtime::Program& p = jit.model->train_step().executor().program();
  fmt::print("== {} launches, {} distinct kernels ==\n", p.launches.size(), jit.train_kernels);
  for (size_t i = 0; i < jit.train_kernels; ++i) fmt::print("{}\n", kir::print_kernel(jit.kernels[i]));
  if (mode == "llvm") fmt::print("== optimised LLVM IR ==\n{}\n", jit.code->llvm_ir());
}

// --print_kernels=cuda: the training step's kernels as the CUDA target
// lowers them, rendered as CUDA C++, and ptxas's report of each for sm_90.
void print_cuda_kernels(const CompiledStep& compiled) {
  std::vector<kir::Kernel> kernels =
      lower_planned(plan_backend(*compiled.graph, compiled.provenance(), {}, true, cuda_target())).lowered.kernels;
  // The GPU library's kernels, the same in every artifact, are left out.
  const std::string source = codegen::render_cuda(kernels, /*with_library=*/false);
  codegen::CudaBinary binary = codegen::compile_cuda(source);
  fmt::print("== {} CUDA kernels (NVRTC {}, sm_{}; the GPU library's are in runtime/cuda_library_source.h and cuda_attention_source.h) ==\n{}\n"
             "== ptxas ==\n",
             kernels.size(), codegen::nvrtc_version(), binary.sm, source);
  std::map<std::string, codegen::KernelResources> report;
  for (const codegen::KernelResources& r : binary.resources) report[r.name] = r;
  for (const kir::Kernel& k : kernels) {
    const codegen::KernelResources& r = report[k.name];
    fmt::print("{:<24} {:>3} registers, {} bytes spilled, {} bytes stack\n", k.name, r.registers, r.spill_store_bytes,
               r.stack_bytes);
  }
}

// --device=cuda: one line saying which of the driver and the GPU is
// missing, before anything compiles.
void require_gpu() {
  if (std::string missing = runtime::cuda_unavailable_reason(); !missing.empty()) {
    throw Error("--device=cuda: " + missing);
  }
}

// The training step and forward pass for GPU 0: planned for the CUDA
// target, compiled by NVRTC for the GPU's architecture, run by the
// runtime's Model as a CUDA artifact file would be.
std::unique_ptr<runtime::Model> open_gpu_model(const CompiledStep& compiled, BackendPlan planned, const Graph& forward,
                                               const std::string& name, const ReformerConfig& config) {
  const runtime::CudaDeviceInfo gpu = runtime::CudaDriver::get().device(0);
  LoweredArtifact lowered = lower_artifact(compiled, std::move(planned), &forward, {}, cuda_target());
  runtime::Artifact& a = lowered.artifact;
  a.manifest = {.compiler_version = kCompilerVersion, .model = name, .config = config_record(config)};
  attach_cuda_code(lowered, gpu.sm);
  return runtime::Model::from_parts(std::move(a), nullptr, name + " (--device=cuda)");
}

void check_fits_in_memory(int64_t bytes) {
  int64_t machine = runtime::physical_memory_bytes();
  if (bytes > machine) {
    throw UsageError(
        fmt::format("the training step needs {} but this machine has {}: lower --seq_len or --batch, or "
                    "raise --ff_chunks",
                    format_bytes(bytes), format_bytes(machine)));
  }
}

int train(const ModelSelection& selection, runtime::Communicator& ranks) {
  const ModelEntry& entry = *selection.entry;
  const Flags& flags = selection.flags;
  // `batch` stays the global batch; each rank's step takes its share.
  ReformerConfig config = selection.config;
  config.replicas = ranks.size();
  config.validate();
  runtime::require_same_on_every_rank(ranks, "the model and its configuration", entry.name + "\n" + describe_config(config));
  training::TrainingOptions options = training_options(flags, entry.name, config);
  options.communicator = &ranks;
  training::leave_outputs_to_rank0(options);
  // The memory budget's choice; every rank must make the same one (their
  // steps' gradients are summed bucket by bucket).
  CompileOptions chosen = compile_options(flags);
  if (apply_memory_flags(flags, config, chosen, ranks.rank() == 0 ? options.messages : nullptr,
                         {.host = flags.get("device") == "cpu", .processes = ranks.size()})) {
    options.config = config_record(config);
  }
  runtime::require_same_on_every_rank(
      ranks, "the memory budget's choice",
      fmt::format("stored blocks {}, feed-forward chunks {}", chosen.stored_blocks, config.ff_chunks));
  training::PreparedRun prepared = training::prepare_run(options);

  std::unique_ptr<Task> task = make_task(entry, config, flags.get("data"), options.seed);
  runtime::require_same_on_every_rank(ranks, "the data", task->describe());
  // Backend flags first: a bad value is refused before anything compiles.
  const std::string backend = flags.get("backend");
  if (backend != "llvm" && backend != "interpreter") {
    throw UsageError("--backend must be llvm or interpreter, got '" + backend + "'");
  }
  const std::string device = flags.get("device");
  if (device != "cpu" && device != "cuda") throw UsageError("--device must be cpu or cuda, got '" + device + "'");
  if (device == "cuda") require_gpu();
  if (device == "cuda" && (backend == "interpreter" || ranks.size() > 1)) {
    throw UsageError("--device=cuda trains in one process with --backend=llvm");
  }
  if (backend == "interpreter" && ranks.size() > 1) {
    throw UsageError("the interpreter trains in one process: run it without mpirun, or use --backend=llvm");
  }
  const std::string kernels = flags.get("print_kernels");
  if (kernels != "false" && kernels != "true" && kernels != "llvm" && kernels != "cuda") {
    throw UsageError("--print_kernels must be false, true, llvm or cuda, got '" + kernels + "'");
  }
  int threads = thread_count(flags);

  std::unique_ptr<Graph> model_graph = build_reformer_graph(config, entry.name);
  if (flags.get_bool("print_ir")) {
    fmt::print(options.messages, "== forward graph ==\n{}\n", print_graph(*model_graph, {.locations = false}));
  }
  const CompileOptions compile = reformer_compile_options(config, chosen);
  CompiledStep compiled = compile_training_step(*model_graph, "loss", reformer_optimizer(config), compile);
  std::unique_ptr<Graph> forward = compile_forward(*build_reformer_eval_graph(config, entry.name), compile);

  // What the step will allocate, compared with the machine before anything
  // is: a model too large is refused with what to change, not killed.
  // Planned once: the native back end lowers this plan, and the summary
  // and the run directory show it (for the interpreter, for comparison).
  BackendPlan planned =
      plan_backend(*compiled.graph, compiled.provenance(), {}, true, device == "cuda" ? cuda_target() : cpu_target());
  const MemoryPlan plan = planned.plan;
  int64_t persistent = 0;
  for (const PersistentValue& p : plan.persistent) persistent += p.type.bytes();
  options.planned_bytes = plan.arena_bytes + persistent;
  // The interpreter holds every value in double and frees nothing early.
  check_fits_in_memory(backend == "interpreter" ? 2 * options.planned_bytes : options.planned_bytes);

  // The step runs natively (llvm) or on the interpreter; the loop is the
  // same for both.
  JitModel jit;  // the native engine: an in-memory artifact run by the runtime
  std::unique_ptr<runtime::Model> gpu_model;  // --device=cuda
  std::unique_ptr<training::ModelSession> session;
  runtime::Executor* train = nullptr;
  auto started = std::chrono::steady_clock::now();
  if (backend == "interpreter") {
    session = training::make_interpreter_session(compiled, *forward, options.seed);
  } else if (device == "cuda") {
    gpu_model = open_gpu_model(compiled, std::move(planned), *forward, entry.name, config);
    gpu_model->train_step().set_profiling(flags.get_bool("profile"));
    if (flags.get_bool("check_numerics")) throw UsageError("--check_numerics runs on the CPU: train without --device");
    session = training::make_artifact_session(*gpu_model, options.seed);
  } else {
    jit = open_jit_model(lower_artifact(compiled, std::move(planned), forward.get()), entry.name,
                         {.threads = threads, .communicator = &ranks}, {.keep_llvm_ir = kernels == "llvm"});
    train = &jit.model->train_step().executor();
    train->set_profiling(flags.get_bool("profile"));
    train->set_checking_numerics(flags.get_bool("check_numerics"));
    session = training::make_artifact_session(*jit.model, options.seed);
  }
  session = training::share_batches(std::move(session), ranks);  // this rank's rows of each batch
  double compile_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  if (!options.run_dir.empty()) options.plan_html = plans_to_html({{entry.name + " (as trained)", &plan}});

  int64_t params = 0;
  for (const Tensor& p : parameters(*model_graph)) params += p.type().elements();
  fmt::print(options.messages,
             "model {}: {} parameters; training step of {} nodes, planned peak {} transient + {} parameters\n",
             entry.name, params, compiled.graph->size(), format_bytes(plan.arena_bytes),
             format_bytes(plan.persistent_bytes(ValueKind::parameter)));
  fmt::print(options.messages, "data: {}\n", task->describe());
  if (flags.get_bool("show_config")) fmt::print(options.messages, "{}", describe_config(config));
  if (train) {
    fmt::print(options.messages,
               "backend llvm: {} launches ({} distinct kernels) for {}, {} threads, {}, compiled in {:.2f}s\n",
               train->program().launches.size(), jit.train_kernels, jit.code->target(), train->threads(),
               runtime::describe_gemm(train->uses_generated_gemm()), compile_seconds);
    if (kernels == "true" || kernels == "llvm") print_kernels(jit, kernels);
  }
  if (gpu_model) {
    runtime::Entry& step = gpu_model->train_step();
    fmt::print(options.messages, "device cuda: {} launches on {}, compiled by NVRTC in {:.2f}s\n",
               step.program().launches.size(), step.machine(), compile_seconds);
  }
  if (kernels == "cuda") print_cuda_kernels(compiled);
  training::TrainingRun run = training::run_training(*session, *task, config, options, std::move(prepared));
  if (flags.get_bool("profile") && (train || gpu_model)) {
    const runtime::Program& program = train ? train->program() : gpu_model->train_step().program();
    const std::vector<double>& seconds = train ? train->seconds() : gpu_model->train_step().seconds();
    // The share of the peak is the CPU's: the GPU's peak is not measured.
    const std::optional<runtime::FmaPeak> peak = train ? std::optional(profile_peak(flags)) : std::nullopt;
    fmt::print(options.messages, "{}",
               runtime::profile_report(program, seconds, static_cast<int64_t>(run.step_seconds.size()),
                                       profile_rows(flags), peak));
  }
  training::print_training_summary(run, *task, options,
                                   ranks.size() > 1 ? fmt::format("{}, {}", backend, ranks.describe()) : backend);
  return 0;
}

int run_train(const std::vector<std::string>& args) {
  ModelSelection selection = select_model("train", args, train_flags());
  if (selection.help_shown) return 0;
  std::unique_ptr<runtime::Communicator> ranks = open_ranks(selection.flags);
  return run_on_ranks(*ranks, [&] { return train(selection, *ranks); });
}

const bool registered = [] {
  register_command({"train", "train a registered model (reforge train <model> --help lists flags)", run_train});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
