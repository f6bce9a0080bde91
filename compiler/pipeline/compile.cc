#include "compiler/pipeline/compile.h"

#include <fmt/format.h>

#include "compiler/ir/verifier.h"
#include "compiler/passes/algebraic_simplification.h"
#include "compiler/passes/common_subexpression_elimination.h"
#include "compiler/passes/dead_code_elimination.h"
#include "compiler/passes/expand_structured.h"
#include "compiler/passes/lsh_forward_sharing.h"
#include "compiler/passes/lsh_fusion.h"
#include "compiler/passes/pass_manager.h"
#include "compiler/passes/reversible_recompute.h"
#include "compiler/passes/view_rematerialisation.h"

namespace reforge {
namespace {

// `gradients`: the training step's parameter gradients (none for a
// forward pass), which data parallelism sums over the replicas.
PassManager make_pipeline(const CompileOptions& o, const std::vector<std::string>& gradients = {}) {
  // An unknown --print_after name may be a back-end stage's: the refusal
  // lists those too (built only when a name is asked for).
  std::string also_known;
  if (!o.print_after.empty()) also_known = fmt::format("the back end's stages: {}", fmt::join(backend_pass_names(), ", "));
  PassManager pm({o.print_after, o.print_after_all, o.print, also_known});
  // First, while every gradient still has the name differentiation gave
  // it. The passes after it keep the order of the nodes, so each bucket's
  // sum still starts right after its last gradient.
  if (o.ranks > 1 && !gradients.empty()) {
    pm.add({"gradient-all-reduce", [gradients, buckets = o.buckets](const Graph& g) {
              return insert_gradient_all_reduce(g, gradients, buckets);
            }});
  }
  if (o.simplify) pm.add({"simplify", simplify_algebra});
  if (o.cse) pm.add({"cse", eliminate_common_subexpressions});
  if (o.simplify && o.cse) pm.add({"simplify-after-cse", simplify_algebra});
  if (o.dce) pm.add({"dce", eliminate_dead_code});
  return pm;
}

PassManager backend_pipeline(const Target& target, const PassManagerOptions& print) {
  PassManager pm(print);
  // Shared by every target. Expanding reversible blocks stacks each
  // block's streams and takes them apart again in the next:
  // simplification folds those slices of concats, and dead-code
  // elimination drops the stacks no one reads any more.
  pm.add({"expand-structured", [](const Graph& g) { return expand_all_structured(g); }});
  pm.add({"share-lsh-forward", [](const Graph& g) { return share_lsh_forward(g); }});
  pm.add({"simplify-expanded", simplify_algebra});
  pm.add({"dce-expanded", eliminate_dead_code});
  pm.add({"rematerialise-views", [](const Graph& g) { return rematerialise_shared_views(g); }});
  for (Pass& pass : target.backend_passes()) pm.add(std::move(pass));
  return pm;
}

}  // namespace

ValueProvenance CompiledStep::provenance() const {
  ValueProvenance p;
  for (const CarriedValue& c : step.carried) p.update_outputs.insert(c.next);
  return p;
}

std::unique_ptr<Graph> backend_graph(const Graph& graph, const Target& target, const PassManagerOptions& print) {
  std::unique_ptr<Graph> out = backend_pipeline(target, print).run(graph);
  verify(*out);
  return out;
}

std::vector<std::string> backend_pass_names(const Target& target) { return backend_pipeline(target, {}).names(); }

BackendPlan plan_backend(const Graph& graph, const ValueProvenance& provenance, const PlanOptions& options,
                         bool elementwise_fusion, const Target& target, const PassManagerOptions& print) {
  BackendPlan out;
  out.graph = backend_graph(graph, target, print);
  out.grouping = kernel_grouping(*out.graph, elementwise_fusion);
  PlanOptions for_target = options;
  for_target.library_device = target.library_device();
  out.plan = plan_memory(*out.graph, provenance, for_target, out.grouping);
  out.reductions = target.reduction_schedule();
  return out;
}

MemoryPlan plan_step_memory(const CompiledStep& step, const PlanOptions& options, bool elementwise_fusion,
                            const Target& target) {
  return plan_backend(*step.graph, step.provenance(), options, elementwise_fusion, target).plan;
}

std::vector<std::string> pass_names(const CompileOptions& options) {
  return make_pipeline(options, {"(the step's gradients)"}).names();
}

CompiledStep compile_training_step(const Graph& model, const std::string& loss_output, const OptimizerConfig& optimizer,
                                   const CompileOptions& options) {
  verify(model);
  int loss_id = model.find_output(loss_output);
  if (loss_id < 0) throw Error("the model has no output '" + loss_output + "'");

  // Differentiate while the Reformer structure is still visible: reversible
  // blocks either keep their reconstruction rule or are expanded first.
  std::unique_ptr<Graph> graph = options.lsh_fusion ? fuse_lsh_attention(model) : model.clone();
  // Blocks that store their activations (all, with recompute off) are
  // expanded: ordinary autodiff then keeps what their backward reads.
  const int64_t stored = options.reversible_recompute ? options.stored_blocks : reconstructing_blocks(*graph);
  if (stored > 0) graph = store_last_blocks(*graph, stored);
  std::vector<std::pair<std::string, int>> metrics;
  for (const auto& [name, id] : graph->outputs()) {
    if (name != loss_output) metrics.emplace_back(name, id);
  }
  Tensor loss = graph->value(graph->find_output(loss_output));
  graph->mutable_outputs().clear();

  CompiledStep compiled;
  for (int id = 0; id < graph->size(); ++id) graph->mutable_node(id).role = ValueRole::forward;
  int first_backward = graph->size();
  AutodiffOptions autodiff = options.reversible_recompute ? with_reversible_recompute({}) : AutodiffOptions{};
  compiled.step = build_training_step(*graph, loss, optimizer, autodiff);
  for (const auto& [name, id] : metrics) graph->output(name, graph->value(id));
  // The first node gradients() adds is the seed d(loss)/d(loss) = 1.
  std::vector<bool> carries_gradient(graph->size(), false);
  for (int id = first_backward; id < graph->size(); ++id) {
    carries_gradient[id] = id == first_backward;
    for (int in : graph->node(id).inputs) carries_gradient[id] = carries_gradient[id] || carries_gradient[in];
    ValueRole& role = graph->mutable_node(id).role;
    role = carries_gradient[id]                       ? ValueRole::gradient
           : id >= compiled.step.first_optimizer_node ? ValueRole::optimizer
                                                      : ValueRole::recompute;
  }
  for (const std::string& name : compiled.step.gradients) {
    graph->mutable_node(graph->find_node(name)).role = ValueRole::parameter_gradient;
  }

  compiled.graph = make_pipeline(options, compiled.step.gradients).run(*graph);
  return compiled;
}

std::unique_ptr<Graph> compile_forward(const Graph& model, const CompileOptions& options) {
  verify(model);
  std::unique_ptr<Graph> graph = options.lsh_fusion ? fuse_lsh_attention(model) : model.clone();
  for (int id = 0; id < graph->size(); ++id) graph->mutable_node(id).role = ValueRole::forward;
  return make_pipeline(options).run(*graph);
}

}  // namespace reforge
