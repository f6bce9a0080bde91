// `reforge train <model>`: builds a registered model with any config flags,
// differentiates it into a training step and trains it, printing progress
// (step, loss, tokens/s, ETA). Runs on the reference interpreter until the
// compiled back ends land.
#include <fmt/format.h>

#include <cmath>

#include "compiler/autodiff/training_step.h"
#include "compiler/interpreter/trainer.h"
#include "compiler/ir/printer.h"
#include "compiler/ir/verifier.h"
#include "models/model_registry.h"
#include "models/reformer.h"
#include "models/tasks.h"
#include "runtime/progress.h"
#include "tools/cli/model_flags.h"

namespace reforge::cli {
namespace {

const std::map<std::string, std::string> kTrainFlags = {
    {"steps", "100"}, {"seed", "1"},          {"data", ""},
    {"log_every", "10"}, {"show_config", "true"}, {"print_ir", "false"}};

int run_train(const std::vector<std::string>& args) {
  ModelSelection selection = select_model("train", args, kTrainFlags);
  const ModelEntry& entry = *selection.entry;
  const ReformerConfig& config = selection.config;
  const Flags& flags = selection.flags;
  int64_t steps = flags.get_int("steps");
  if (steps < 1) throw Error("--steps must be at least 1");
  auto seed = static_cast<uint64_t>(flags.get_int("seed"));

  std::unique_ptr<Task> task = entry.task == TaskKind::duplication ? make_duplication_task(config, seed)
                                                                    : make_byte_lm_task(config, flags.get("data"), seed);
  Graph graph(entry.name);
  ReformerModel model = build_reformer(graph, config);
  verify(graph);
  if (flags.get_bool("print_ir")) fmt::print("== forward graph ==\n{}\n", print_graph(graph, {.locations = false}));
  graph.output("accuracy", model.accuracy);
  TrainingStep step = build_training_step(
      graph, model.loss, {.learning_rate = config.learning_rate, .weight_decay = config.weight_decay});
  verify(graph);

  int64_t params = 0;
  for (int id = 0; id < graph.size(); ++id) {
    if (graph.node(id).op == "param") params += graph.node(id).type.elements();
  }
  fmt::print("model {}: {} parameters, training graph of {} nodes (interpreter)\n", entry.name, params, graph.size());
  if (flags.get_bool("show_config")) fmt::print("{}", describe_config(config));

  InterpreterTrainer trainer(graph, step, seed);
  ProgressReporter progress(steps, config.batch * config.seq_len, "tokens", flags.get_int("log_every"));
  ValueMap last;
  for (int64_t s = 1; s <= steps; ++s) {
    last = trainer.run_step(task->batch(s));
    progress.report(s, last.at("loss")[0]);
  }
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
