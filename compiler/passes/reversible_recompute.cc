#include "compiler/passes/reversible_recompute.h"

#include "compiler/dsl/dsl.h"
#include "ops/structured.h"

namespace reforge {
namespace {

std::vector<Tensor> reconstruct_and_differentiate(const VjpContext& c) {
  const Node& n = c.node();
  ops::ReversibleOperands o = ops::reversible_operands(n, c.inputs);

  Tensor y1 = stream(c.output, 0), y2 = stream(c.output, 1);
  Tensor dy1 = stream(c.grad, 0), dy2 = stream(c.grad, 1);

  // G at y1: its value rebuilds x2, its vjp adds to dy1.
  Tensor g_out = ops::inline_body(c.graph, *n.regions[1], y1, o.g_captures);
  std::vector<Tensor> g_args{y1};
  g_args.insert(g_args.end(), o.g_captures.begin(), o.g_captures.end());
  std::vector<Tensor> g_grads = c.differentiate({g_out}, {dy2}, g_args);
  Tensor dy1_total = g_grads[0].valid() ? dy1 + g_grads[0] : dy1;
  Tensor x2 = y2 - g_out;

  // F at the rebuilt x2: its value rebuilds x1, its vjp adds to dx2.
  Tensor f_out = ops::inline_body(c.graph, *n.regions[0], x2, o.f_captures);
  std::vector<Tensor> f_args{x2};
  f_args.insert(f_args.end(), o.f_captures.begin(), o.f_captures.end());
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
