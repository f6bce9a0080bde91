#include "models/reformer_step.h"

#include "compiler/ir/verifier.h"
#include "models/architecture.h"

namespace reforge {

std::unique_ptr<Graph> build_reformer_graph(const ReformerConfig& config, const std::string& name, DType float_type) {
  auto graph = std::make_unique<Graph>(name);
  graph->set_default_float(float_type);
  ModelOutputs model = build_model(*graph, config);
  graph->output("loss", model.loss);
  graph->output("accuracy", model.accuracy);
  verify(*graph);
  return graph;
}

std::unique_ptr<Graph> build_reformer_eval_graph(const ReformerConfig& config, const std::string& name,
                                                 DType float_type, const ReformerBuild& build) {
  ReformerConfig eval = config;
  eval.dropout = 0.0;
  eval.attention_dropout = 0.0;
  auto graph = std::make_unique<Graph>(name + ".forward");
  graph->set_default_float(float_type);
  ModelOutputs model = build_model(*graph, eval, build);
  graph->output("loss", model.loss);
  graph->output("accuracy", model.accuracy);
  graph->output("logits", model.logits);
  verify(*graph);
  return graph;
}

OptimizerConfig reformer_optimizer(const ReformerConfig& config) {
  return {.learning_rate = config.learning_rate, .weight_decay = config.weight_decay};
}

CompileOptions reformer_compile_options(const ReformerConfig& config, CompileOptions options) {
  options.ranks = static_cast<int>(config.replicas);
  return options;
}

CompiledStep compile_reformer_step(const ReformerConfig& config, const CompileOptions& options, const std::string& name,
                                   DType float_type) {
  std::unique_ptr<Graph> model = build_reformer_graph(config, name, float_type);
  return compile_training_step(*model, "loss", reformer_optimizer(config), reformer_compile_options(config, options));
}

}  // namespace reforge
