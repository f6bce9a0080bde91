// Trains the two-stage language model (two_stage_lm.cc, registered like
// any Reforge variant) with Reforge's training library, then compiles it
// ahead of time into an artifact and opens that with the runtime alone:
//
//   bazel run //:train -- OUT_DIR
//
// It prints the training run's progress and summary, then the loss of a
// training step run from the artifact file.
#include <fmt/format.h>

#include <cstdio>
#include <string>

#include "base/durable_file.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/jit_model.h"
#include "models/model_registry.h"
#include "models/reformer_artifact.h"
#include "models/reformer_step.h"
#include "runtime/reforge_runtime.h"
#include "training/loop.h"
#include "training/session.h"
#include "two_stage_lm.h"

int main(int argc, char** argv) {
  using namespace reforge;
  try {
    const std::string out_dir = argc > 1 ? argv[1] : ".";
    const ModelEntry& entry = find_model(two_stage::kModel);
    const ReformerConfig& config = entry.config;

    // Train through the library, as `reforge train` does.
    CompiledStep step = compile_training_step(*build_reformer_graph(config, entry.name), "loss",
                                              reformer_optimizer(config), CompileOptions{});
    std::unique_ptr<Graph> forward = compile_forward(*build_reformer_eval_graph(config, entry.name), CompileOptions{});
    BackendPlan planned = plan_backend(*step.graph, step.provenance());
    JitModel jit = open_jit_model(lower_artifact(step, std::move(planned), forward.get()), entry.name, {.threads = 2});
    training::TrainingOptions options{.steps = 400, .seed = 3, .log_every = 100, .eval_batches = 4};
    options.model = entry.name;
    options.tokens_per_step = config.batch * config.seq_len;
    std::unique_ptr<Task> task = make_task(entry, config, "", options.seed);
    std::unique_ptr<training::ModelSession> session = training::make_artifact_session(*jit.model, options.seed);
    training::TrainingRun run =
        training::run_training(*session, *task, config, options, training::prepare_run(options));
    training::print_training_summary(run, *task, options, "llvm");

    // Ahead of time: one artifact file, opened by the runtime alone.
    const std::string path = out_dir + "/two_stage_lm.rfa";
    write_file_durably(path, runtime::encode_artifact(compile_reformer_artifact(config, entry.name)), "artifact");
    std::unique_ptr<runtime::Model> model = runtime::Model::open(path);
    std::unique_ptr<training::ModelSession> from_file = training::make_artifact_session(*model, options.seed);
    fmt::print("artifact {}: a training step from it, loss {:.6f}\n", path,
               from_file->train_step(task->batch(1)).at("loss")[0]);
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "train: %s\n", e.what());
    return 1;
  }
}
