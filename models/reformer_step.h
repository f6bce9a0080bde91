// The one path from a config to its training step: build the model its
// architecture names (models/architecture.h) with its loss (and accuracy)
// as outputs, then
// differentiate, add the optimizer and run the passes. Commands, the
// chunk-budget search, benchmarks and tests all come through here.
#pragma once

#include <memory>
#include <string>

#include "compiler/pipeline/compile.h"
#include "models/reformer.h"
#include "models/reformer_config.h"

namespace reforge {

// The forward graph, named `name`, with outputs "loss" and "accuracy";
// parameters and float inputs in `float_type`.
std::unique_ptr<Graph> build_reformer_graph(const ReformerConfig& config, const std::string& name = "reformer",
                                            DType float_type = DType::f32);

// The forward pass for evaluation and generation: outputs "loss",
// "accuracy" and "logits" (a language model's [batch, seq_len, vocab]),
// dropout off. Its
// parameters are the training graph's (same names and shapes).
std::unique_ptr<Graph> build_reformer_eval_graph(const ReformerConfig& config, const std::string& name = "reformer",
                                                 DType float_type = DType::f32, const ReformerBuild& build = {});

// What the model holds, counted in its graph rather than from the
// config's layers (an architecture may build several stacks, or override
// their attention): its reversible blocks, and whether any layer runs
// LSH attention.
int64_t reversible_blocks(const ReformerConfig& config);
bool has_lsh_attention(const ReformerConfig& config);

// Adam with the config's learning rate and weight decay.
OptimizerConfig reformer_optimizer(const ReformerConfig& config);

// `options` for `config`'s step: its replicas are the ranks the gradients
// are summed over (every path that compiles a Reformer step asks this).
CompileOptions reformer_compile_options(const ReformerConfig& config, CompileOptions options);

// build_reformer_graph, then compile_training_step on "loss".
CompiledStep compile_reformer_step(const ReformerConfig& config, const CompileOptions& options = {},
                                   const std::string& name = "reformer", DType float_type = DType::f32);

}  // namespace reforge
