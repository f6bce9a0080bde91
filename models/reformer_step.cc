#include "models/reformer_step.h"

#include "compiler/ir/verifier.h"
#include "compiler/passes/reversible_recompute.h"
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

int64_t reversible_blocks(const ReformerConfig& config) {
  return reconstructing_blocks(*build_reformer_graph(config, "count"));
}

namespace {

// Whether `graph` or a region nested in it holds an `op` node.
bool holds_op(const Graph& graph, const std::string& op) {
  for (int id = 0; id < graph.size(); ++id) {
    const Node& node = graph.node(id);
    if (node.op == op) return true;
    for (const auto& region : node.regions) {
      if (holds_op(*region, op)) return true;
    }
  }
  return false;
}

}  // namespace

bool has_lsh_attention(const ReformerConfig& config) {
  return holds_op(*build_reformer_graph(config, "count"), "lsh_attention");
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
