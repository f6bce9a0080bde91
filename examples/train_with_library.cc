// Training from a program of your own, with the loop `reforge train` uses:
// take a model (here the registered duplication Reformer, one layer deep),
// compile its training step and forward pass, open them as a JIT model
// (an in-memory artifact the runtime runs) and hand the session to the
// training library, which runs the steps, validates and checkpoints.
//
//   bazel run //examples:train_with_library -- [RUN_DIR]
#include <fmt/format.h>

#include <cstdio>

#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/jit_model.h"
#include "models/model_registry.h"
#include "models/reformer_step.h"
#include "models/tasks.h"
#include "training/loop.h"
#include "training/session.h"

int main(int argc, char** argv) {
  using namespace reforge;
  try {
    ReformerConfig config = find_model("duplication").config;  // or a config of your own
    config.n_layers = 1;
    CompiledStep step = compile_training_step(*build_reformer_graph(config, "mine"), "loss",
                                              reformer_optimizer(config), CompileOptions{});
    std::unique_ptr<Graph> forward = compile_forward(*build_reformer_eval_graph(config, "mine"), CompileOptions{});
    BackendPlan planned = plan_backend(*step.graph, step.provenance());
    JitModel jit = open_jit_model(lower_artifact(step, std::move(planned), forward.get()), "mine", {.threads = 2});

    training::TrainingOptions options{.steps = 60, .seed = 3, .log_every = 20, .eval_batches = 4};
    options.run_dir = argc > 1 ? argv[1] : "";
    options.model = "mine";
    options.tokens_per_step = config.batch * config.seq_len;
    std::unique_ptr<Task> task = make_duplication_task(config, options.seed);
    std::unique_ptr<training::ModelSession> session = training::make_artifact_session(*jit.model, options.seed);
    training::TrainingRun run =
        training::run_training(*session, *task, config, options, training::prepare_run(options));
    training::print_training_summary(run, *task, options, "llvm");
    return 0;
  } catch (const Error& e) {
    std::fprintf(stderr, "train_with_library: %s\n", e.what());
    return 1;
  }
}
