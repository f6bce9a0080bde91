#include "compiler/pipeline/compile.h"

#include "compiler/ir/verifier.h"
#include "compiler/passes/algebraic_simplification.h"
#include "compiler/passes/common_subexpression_elimination.h"
#include "compiler/passes/dead_code_elimination.h"
#include "compiler/passes/elementwise_fusion.h"
#include "compiler/passes/expand_structured.h"
#include "compiler/passes/lsh_fusion.h"
#include "compiler/passes/pass_manager.h"
#include "compiler/passes/reversible_recompute.h"

namespace reforge {
namespace {

PassManager make_pipeline(const CompileOptions& o) {
  PassManager pm({o.print_after, o.print_after_all, o.print});
  if (o.simplify) pm.add({"simplify", simplify_algebra});
  if (o.cse) pm.add({"cse", eliminate_common_subexpressions});
  if (o.simplify && o.cse) pm.add({"simplify-after-cse", simplify_algebra});
  if (o.dce) pm.add({"dce", eliminate_dead_code});
  return pm;
}

}  // namespace

ValueProvenance CompiledStep::provenance() const {
  ValueProvenance p{forward_names, gradient_names, {}, {}};
  p.parameter_gradients.insert(step.gradients.begin(), step.gradients.end());
  for (const CarriedValue& c : step.carried) p.update_outputs.insert(c.next);
  return p;
}

std::unique_ptr<Graph> backend_graph(const Graph& graph) {
  std::set<std::string> structured;
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    if (n.def && n.def->kind == OpKind::structured) structured.insert(n.op);
  }
  std::unique_ptr<Graph> expanded = structured.empty() ? graph.clone() : expand_structured(graph, structured);
  verify(*expanded);
  return expanded;
}

namespace {

// Multi-output kernels: an elementwise kernel whose value is read by just
// one other elementwise kernel of the same shape (and perhaps by the
// caller, as a graph output) is computed inside that kernel, which stores
// it too — when nothing else runs between the two, so no lifetime
// stretches. Adam's m and v next values join their parameter's update.
void merge_multi_output_kernels(const Graph& graph, KernelGrouping& kernels) {
  const int n = graph.size();
  auto elementwise = [&](int id) { return graph.node(id).def && graph.node(id).def->elementwise(); };
  auto runs_in_kernel = [&](int id) {
    const Node& node = graph.node(id);
    return node.def && (node.def->elementwise() || node.def->kind == OpKind::view || node.def->kind == OpKind::source);
  };
  // The kernel (root) that reads each value: -1 none yet, -2 several.
  std::vector<int> reading_kernel(n, -1);
  for (int id = 0; id < n; ++id) {
    for (int in : graph.node(id).inputs) {
      int root = kernels.kernel_root[id];
      reading_kernel[in] = reading_kernel[in] == -1 || reading_kernel[in] == root ? root : -2;
    }
  }
  kernels.stored.assign(n, false);
  for (int id = 0; id < n; ++id) {
    int r = reading_kernel[id];
    if (r < 0 || r == id || kernels.kernel_root[id] != id || kernels.kernel_root[r] != r) continue;
    if (!elementwise(id) || !elementwise(r) || graph.node(id).type.shape != graph.node(r).type.shape) continue;
    bool adjacent = true;
    for (int between = id + 1; between < r && adjacent; ++between) adjacent = runs_in_kernel(between);
    if (!adjacent) continue;
    kernels.stored[id] = true;
    for (int member = 0; member <= id; ++member) {  // its group, itself included
      if (kernels.kernel_root[member] == id) kernels.kernel_root[member] = r;
    }
  }
}

}  // namespace

KernelGrouping kernel_grouping(const Graph& graph, bool elementwise_fusion) {
  KernelGrouping kernels;
  if (!elementwise_fusion) return kernels;
  FusionGroups groups = group_elementwise(graph);
  kernels.kernel_root.resize(graph.size());
  for (int id = 0; id < graph.size(); ++id) {
    kernels.kernel_root[id] = groups.group_of[id] >= 0 ? groups.groups[groups.group_of[id]].back() : id;
  }
  merge_multi_output_kernels(graph, kernels);
  // Library ops that read a producer through an operand flag (a GEMM and
  // the transpose feeding it) absorb it when they are its only reader.
  std::vector<int> readers(graph.size(), 0);
  for (int id = 0; id < graph.size(); ++id) {
    for (int in : graph.node(id).inputs) ++readers[in];
  }
  for (const auto& [name, id] : graph.outputs()) readers[id] += 2;
  for (int id = 0; id < graph.size(); ++id) {
    const Node& n = graph.node(id);
    if (!n.def || !n.def->absorbs_input) continue;
    for (size_t i = 0; i < n.inputs.size(); ++i) {
      int producer = n.inputs[i];
      if (readers[producer] == 1 && kernels.kernel_root[producer] == producer &&
          n.def->absorbs_input(static_cast<int>(i), graph.node(producer))) {
        kernels.kernel_root[producer] = id;
      }
    }
  }
  return kernels;
}

MemoryPlan plan_step_memory(const CompiledStep& step, const PlanOptions& options, bool elementwise_fusion) {
  std::unique_ptr<Graph> graph = backend_graph(*step.graph);
  return plan_memory(*graph, step.provenance(), options, kernel_grouping(*graph, elementwise_fusion));
}

std::vector<std::string> pass_names(const CompileOptions& options) { return make_pipeline(options).names(); }

CompiledStep compile_training_step(const Graph& model, const std::string& loss_output, const OptimizerConfig& optimizer,
                                   const CompileOptions& options) {
  verify(model);
  int loss_id = model.find_output(loss_output);
  if (loss_id < 0) throw Error("the model has no output '" + loss_output + "'");

  // Differentiate while the Reformer structure is still visible: reversible
  // blocks either keep their reconstruction rule or are expanded first.
  std::unique_ptr<Graph> graph = options.lsh_fusion ? fuse_lsh_attention(model) : model.clone();
  if (!options.reversible_recompute) graph = expand_structured(*graph, {"reversible"});
  std::vector<std::pair<std::string, int>> metrics;
  for (const auto& [name, id] : graph->outputs()) {
    if (name != loss_output) metrics.emplace_back(name, id);
  }
  Tensor loss = graph->value(graph->find_output(loss_output));
  graph->mutable_outputs().clear();

  CompiledStep compiled;
  for (int id = 0; id < graph->size(); ++id) compiled.forward_names.insert(graph->node(id).name);
  int first_backward = graph->size();
  AutodiffOptions autodiff = options.reversible_recompute ? with_reversible_recompute({}) : AutodiffOptions{};
  compiled.step = build_training_step(*graph, loss, optimizer, autodiff);
  for (const auto& [name, id] : metrics) graph->output(name, graph->value(id));
  // The first node gradients() adds is the seed d(loss)/d(loss) = 1.
  std::vector<bool> carries_gradient(graph->size(), false);
  for (int id = first_backward; id < graph->size(); ++id) {
    carries_gradient[id] = id == first_backward;
    for (int in : graph->node(id).inputs) carries_gradient[id] = carries_gradient[id] || carries_gradient[in];
    if (carries_gradient[id]) compiled.gradient_names.insert(graph->node(id).name);
  }

  compiled.graph = make_pipeline(options).run(*graph);
  return compiled;
}

}  // namespace reforge
