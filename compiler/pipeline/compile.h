// The compiler's front half in one call: a model graph with a loss becomes
// an optimised training-step graph (forward, backward, optimizer update).
// Every technique can be switched off to measure what it buys.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>

#include "compiler/autodiff/training_step.h"
#include "compiler/ir/graph.h"
#include "compiler/kernel/reduction_schedule.h"
#include "compiler/memory/memory_plan.h"
#include "compiler/passes/gradient_all_reduce.h"
#include "compiler/passes/kernel_grouping.h"
#include "compiler/passes/pass_manager.h"
#include "compiler/target/cpu_target.h"

namespace reforge {

struct CompileOptions {
  // Reformer techniques.
  bool reversible_recompute = true;  // off: blocks are expanded, autodiff stores activations
  // With reversible recompute: how many of the last reversible blocks
  // store their activations for the backward pass instead of rebuilding
  // their inputs (store_last_blocks; a memory budget that affords it saves
  // their recompute).
  int64_t stored_blocks = 0;
  bool lsh_fusion = true;  // off: LSH attention stays decomposed (materialises chunk logits)
  // General passes.
  bool simplify = true;
  bool cse = true;
  bool dce = true;
  // Data parallelism: the replicas the step's gradients are summed over
  // (> 1: the gradient all-reduce pass runs first, with these buckets).
  int ranks = 1;
  GradientBuckets buckets;
  // Debugging: print the IR after these passes (names as in pass_names()).
  std::set<std::string> print_after;
  bool print_after_all = false;
  std::function<void(const std::string&)> print;  // stdout when empty
};

struct CompiledStep {
  std::unique_ptr<Graph> graph;
  TrainingStep step;
  // Every node of `graph` carries its ValueRole: forward, gradient (depends
  // on the seed d loss / d loss = 1), parameter_gradient, recompute (other
  // backward values) or optimizer. What the planner needs besides:
  ValueProvenance provenance() const;
};

// `model` must have the loss as output `loss_output`; its other outputs
// (metrics) stay outputs of the step.
CompiledStep compile_training_step(const Graph& model, const std::string& loss_output, const OptimizerConfig& optimizer,
                                   const CompileOptions& options);

// A model's forward pass alone (evaluation, generation): the same
// Reformer passes and general passes as the training step, no gradients.
// Every output of `model` stays an output.
std::unique_ptr<Graph> compile_forward(const Graph& model, const CompileOptions& options);

// The graph a target runs: `graph` with every structured op expanded, an
// LSH gradient sharing its forward (compiler/passes/lsh_forward_sharing.h)
// and a shared view (broadcast, operand transpose) copied for each reader
// (compiler/passes/view_rematerialisation.h) — the shared stages — then
// the target's own back-end passes. Each stage runs under the pass
// manager (verified after it; `print` options as the front half's).
std::unique_ptr<Graph> backend_graph(const Graph& graph, const Target& target = cpu_target(),
                                     const PassManagerOptions& print = {});
// The stages backend_graph() runs for `target`, in order.
std::vector<std::string> backend_pass_names(const Target& target = cpu_target());

// What a back end runs: the backend_graph(), its kernel grouping and its
// memory plan (values inside fused kernels get no buffer), and the shapes
// of reduction nest the target wants. The back ends lower exactly this,
// and `reforge plan` prints its plan.
struct BackendPlan {
  std::unique_ptr<Graph> graph;
  KernelGrouping grouping;
  MemoryPlan plan;
  kir::ReductionSchedule reductions;
};
BackendPlan plan_backend(const Graph& graph, const ValueProvenance& provenance, const PlanOptions& options = {},
                         bool elementwise_fusion = true, const Target& target = cpu_target(),
                         const PassManagerOptions& print = {});

// The memory plan of a compiled step as the back ends run it.
MemoryPlan plan_step_memory(const CompiledStep& step, const PlanOptions& options = {}, bool elementwise_fusion = true,
                            const Target& target = cpu_target());

// The pass pipeline that runs after differentiation, in order.
std::vector<std::string> pass_names(const CompileOptions& options);

}  // namespace reforge
