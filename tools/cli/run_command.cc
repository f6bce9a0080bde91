// `reforge run model.rfa [flags]`: trains (or, with --eval, evaluates) a
// compiled artifact through the runtime alone, as `reforge train` does
// from source: the same task, batches, initial values, progress,
// validation, checkpoints and resume, and for the same seed the same
// losses bit for bit.
#include <fmt/format.h>

#include <chrono>
#include <cmath>

#include "compiler/memory/plan_dump.h"
#include "models/model_registry.h"
#include "models/reformer_artifact.h"
#include "runtime/checkpoint.h"
#include "runtime/profile_report.h"
#include "runtime/reforge_runtime.h"
#include "tools/cli/command.h"
#include "tools/cli/ranks.h"
#include "training/data_parallel.h"
#include "training/session.h"
#include "tools/cli/training_flags.h"
#include "training/loop.h"

namespace reforge::cli {
namespace {

const std::map<std::string, std::string>& run_flags() {
  static const std::map<std::string, std::string> flags = [] {
    std::map<std::string, std::string> f = training_flag_defaults();
    f["eval"] = "false";
    return f;
  }();
  return flags;
}

// --eval: the held-out score of the model as it starts (or as a resumed
// run's newest checkpoint left it).
int evaluate(training::ModelSession& session, const Task& task, int64_t batches) {
  fmt::print("validation over {} batches: {}\n", batches,
             training::validation_text(training::validation_bits(session, task, batches), task));
  return 0;
}

int run_on(const Flags& flags, runtime::Communicator& ranks) {
  const std::string path = flags.positional()[0];
  int threads = thread_count(flags);
  const bool eval = flags.get_bool("eval");
  const bool profile = flags.get_bool("profile");

  auto started = std::chrono::steady_clock::now();
  std::unique_ptr<runtime::Model> model = runtime::Model::open(path, {.threads = threads, .communicator = &ranks});
  double load_seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  const runtime::Manifest& m = model->manifest();
  ReformerConfig config = config_from_record(m.config);
  if (config.replicas != ranks.size()) {
    throw Error(fmt::format(
        "{} was compiled for {} rank{} and runs on {}: launch it with mpirun -np {}, or compile it again with "
        "--ranks={}",
        path, config.replicas, config.replicas == 1 ? "" : "s", ranks.size(), config.replicas, ranks.size()));
  }
  std::string description = m.model + "\n" + m.compiler_version + "\n" + m.cpu;
  for (const auto& [key, value] : m.config) description += "\n--" + key + "=" + value;
  runtime::require_same_on_every_rank(ranks, "the artifact", description);
  training::TrainingOptions options = training_options(flags, m.model, config);
  options.compiler_version = m.compiler_version;
  options.communicator = &ranks;
  training::leave_outputs_to_rank0(options);
  training::PreparedRun prepared;
  if (!eval) prepared = training::prepare_run(options);
  std::unique_ptr<Task> task = make_task_for(m.model, config, flags.get("data"), options.seed);
  runtime::require_same_on_every_rank(ranks, "the data", task->describe());
  std::unique_ptr<training::ModelSession> session = training::make_artifact_session(*model, options.seed);
  if (eval && ranks.size() > 1) throw UsageError("--eval runs in one process: run it without mpirun");
  session = training::share_batches(std::move(session), ranks);  // this rank's rows of each batch

  runtime::Entry& train = model->train_step();
  fmt::print(options.messages, "artifact {}: model {} compiled by {} for {}; loaded in {:.3f}s, {} threads, {}\n", path,
             m.model, m.compiler_version, m.cpu, load_seconds, model->threads(), train.machine());
  fmt::print(options.messages, "data: {}\n", task->describe());
  if (eval) {
    if (options.resume) {
      // Only the parameters are needed: restore the newest checkpoint.
      std::optional<std::string> latest = runtime::latest_checkpoint(options.run_dir);
      if (!latest) throw Error(fmt::format("--resume: {} holds no checkpoint", options.run_dir));
      session->restore(runtime::read_checkpoint(*latest).values);
    }
    return evaluate(*session, *task, options.eval_batches);
  }
  fmt::print(options.messages, "{}: {} launches, arena {}\n", train.name(), train.program().launches.size(),
             format_bytes(train.program().arena_bytes));
  // What the plan allocates, as `reforge train` counts it: the arena and
  // every slot of the step — the parameters, optimizer state and inputs it
  // is fed, and the gradients and next values it writes.
  int64_t planned = train.program().arena_bytes;
  for (const runtime::Slot& slot : train.program().slots) planned += slot.type.bytes();
  options.planned_bytes = planned;
  train.set_profiling(profile);
  if (flags.get_bool("check_numerics")) {
    if (train.on_gpu()) throw UsageError("--check_numerics runs on the CPU: run a CPU artifact");
    train.executor().set_checking_numerics(true);
  }
  training::TrainingRun run = training::run_training(*session, *task, config, options, std::move(prepared));
  if (profile) {
    const std::optional<runtime::FmaPeak> peak = train.on_gpu() ? std::nullopt : std::optional(profile_peak(flags));
    fmt::print(options.messages, "{}",
               runtime::profile_report(train.program(), train.seconds(),
                                       static_cast<int64_t>(run.step_seconds.size()), profile_rows(flags), peak));
  }
  training::print_training_summary(run, *task, options,
                                   ranks.size() > 1 ? fmt::format("artifact, {}", ranks.describe()) : "artifact");
  return 0;
}

int run_artifact(const std::vector<std::string>& args) {
  Flags flags(args, run_flags());
  if (flags.positional().size() != 1) throw UsageError("usage: reforge run MODEL.rfa [--steps=N --seed=S --eval ...]");
  std::unique_ptr<runtime::Communicator> ranks = open_ranks(flags);
  return run_on_ranks(*ranks, [&] { return run_on(flags, *ranks); });
}

const bool registered = [] {
  register_command({"run", "train (or --eval) a compiled artifact with the runtime alone", run_artifact});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
