#include "compiler/passes/reversible_recompute.h"

#include "compiler/dsl/dsl.h"
#include "compiler/ir/inline_region.h"

namespace reforge {
namespace {

std::vector<Tensor> reconstruct_and_differentiate(const VjpContext& c) {
  const Node& n = c.node();
  const int64_t f_captures = n.attrs.get_int("f_captures");
  std::vector<Tensor> f_caps(c.inputs.begin() + 1, c.inputs.begin() + 1 + f_captures);
  std::vector<Tensor> g_caps(c.inputs.begin() + 1 + f_captures, c.inputs.end());
  // Copy the regions now: inlining appends nodes, and `n` must not be used
  // to reach them after that.
  std::unique_ptr<Graph> f_region = n.regions[0]->clone(), g_region = n.regions[1]->clone();

  Tensor y1 = stream(c.output, 0), y2 = stream(c.output, 1);
  Tensor dy1 = stream(c.grad, 0), dy2 = stream(c.grad, 1);

  // G at y1: its value rebuilds x2, its vjp adds to dy1.
  std::vector<Tensor> g_args{y1};
  g_args.insert(g_args.end(), g_caps.begin(), g_caps.end());
  Tensor g_out = inline_region(c.graph, *g_region, g_args).at(0);
  std::vector<Tensor> g_grads = c.differentiate({g_out}, {dy2}, g_args);
  Tensor dy1_total = g_grads[0].valid() ? dy1 + g_grads[0] : dy1;
  Tensor x2 = y2 - g_out;

  // F at the rebuilt x2: its value rebuilds x1, its vjp adds to dx2.
  std::vector<Tensor> f_args{x2};
  f_args.insert(f_args.end(), f_caps.begin(), f_caps.end());
  Tensor f_out = inline_region(c.graph, *f_region, f_args).at(0);
  std::vector<Tensor> f_grads = c.differentiate({f_out}, {dy1_total}, f_args);
  Tensor dx2 = f_grads[0].valid() ? dy2 + f_grads[0] : dy2;
  Tensor x1 = y1 - f_out;

  c.provide_rebuilt(c.inputs[0], stack_streams(x1, x2));

  std::vector<Tensor> grads{stack_streams(dy1_total, dx2)};
  grads.insert(grads.end(), f_grads.begin() + 1, f_grads.end());
  grads.insert(grads.end(), g_grads.begin() + 1, g_grads.end());
  return grads;
}

}  // namespace

VjpRule reversible_reconstruction_rule() { return reconstruct_and_differentiate; }

AutodiffOptions with_reversible_recompute(AutodiffOptions options) {
  options.rule_overrides["reversible"] = reversible_reconstruction_rule();
  return options;
}

}  // namespace reforge
