// Reversible recompute, the rule: the reversible op's gradient that
// rebuilds each block's input from its output instead of keeping it (its
// OpDef::reconstructing_vjp; autodiff uses it when reversible recompute is
// on: compiler/passes/reversible_recompute.h).
//
// For a block y1 = x1 + F(x2), y2 = x2 + G(y1), given its output (the
// forward value for the last block, the rebuilt one for the others) and
// the output cotangents dy1, dy2:
//   recompute G(y1);    dy1' = dy1 + G'(y1)^T dy2;   x2 = y2 - G(y1)
//   recompute F(x2);    dx2  = dy2 + F'(x2)^T dy1';  x1 = y1 - F(x2)
// and hands (x1, x2) to the previous block as its output. Only the last
// block's output and the integer decisions captured by F (LSH buckets) stay
// alive from the forward pass: activation memory does not grow with depth.
#include <map>

#include "compiler/dsl/dsl.h"
#include "ops/structured.h"

namespace reforge::ops {
namespace {

// The cotangents of `args` through G's inlined value `out` (its nodes
// from `first` on) for seed `grad`; may replace `out` by an equal value
// built along the way. A G whose value comes from a chunked feed-forward
// (a chunked_map, perhaps followed by dropout) is evaluated and
// differentiated chunk by chunk in one pass: evaluating it whole for the
// value and again chunk by chunk inside its vjp ran its first matmul,
// layer norm and activation twice (a fifth of the feed-forward's matmul
// work in the backward). The whole evaluation is left unread, for
// dead-code elimination.
std::vector<Tensor> value_and_vjp(const VjpContext& c, int first, Tensor& out, const Tensor& grad,
                                  const std::vector<Tensor>& args) {
  Graph& graph = c.graph;
  int map_id = out.id;
  while (map_id >= first && !(graph.node(map_id).def && graph.node(map_id).def->value_and_vjp)) --map_id;
  if (map_id < first) return c.differentiate({out}, {grad}, args);

  // Through what follows the map (dropout) to the map's value, and to the
  // arguments along any path that avoids it.
  std::vector<Tensor> wrt{graph.value(map_id)};
  wrt.insert(wrt.end(), args.begin(), args.end());
  std::vector<Tensor> tail = c.differentiate({out}, {grad}, wrt);
  std::vector<Tensor> result(tail.begin() + 1, tail.end());
  if (!tail[0].valid()) return result;

  // The map, chunk by chunk, then on from its operands to the arguments.
  const Node& map = graph.node(map_id);
  std::vector<Tensor> operands;
  for (int in : map.inputs) operands.push_back(graph.value(in));
  Tensor map_value;
  const std::vector<Tensor> map_grads = map.def->value_and_vjp(graph, map, operands, tail[0], c.differentiate, map_value);
  std::vector<Tensor> reached, seeds;
  for (size_t i = 0; i < operands.size(); ++i) {
    if (!map_grads[i].valid()) continue;
    reached.push_back(operands[i]);
    seeds.push_back(map_grads[i]);
  }
  std::vector<Tensor> through_map = c.differentiate(reached, seeds, args);
  for (size_t i = 0; i < args.size(); ++i) {
    if (!through_map[i].valid()) continue;
    result[i] = result[i].valid() ? result[i] + through_map[i] : through_map[i];
  }

  // G's value again: the nodes after the map, reading the chunks' value.
  std::map<int, int> replaced{{map_id, map_value.id}};
  for (int id = map_id + 1; id <= out.id; ++id) {
    const Node& node = graph.node(id);
    std::vector<Tensor> inputs;
    bool reads_replaced = false;
    for (int in : node.inputs) {
      auto it = replaced.find(in);
      reads_replaced = reads_replaced || it != replaced.end();
      inputs.push_back(graph.value(it != replaced.end() ? it->second : in));
    }
    if (!reads_replaced) continue;
    std::vector<std::unique_ptr<Graph>> regions;
    for (const auto& region : node.regions) regions.push_back(region->clone());
    replaced[id] = graph.add(node.op, inputs, node.attrs, node.loc, std::move(regions)).id;
  }
  out = graph.value(replaced.at(out.id));
  return result;
}

}  // namespace

std::vector<Tensor> reversible_reconstruction(const VjpContext& c) {
  const Node& n = c.node();
  ReversibleOperands o = reversible_operands(n, c.inputs);

  Tensor y1 = stream(c.output, 0), y2 = stream(c.output, 1);
  Tensor dy1 = stream(c.grad, 0), dy2 = stream(c.grad, 1);

  // G at y1: its value rebuilds x2, its vjp adds to dy1.
  const int g_first = c.graph.size();
  Tensor g_out = inline_body(c.graph, *n.regions[1], y1, o.g_captures);
  std::vector<Tensor> g_args{y1};
  g_args.insert(g_args.end(), o.g_captures.begin(), o.g_captures.end());
  std::vector<Tensor> g_grads = value_and_vjp(c, g_first, g_out, dy2, g_args);
  Tensor dy1_total = g_grads[0].valid() ? dy1 + g_grads[0] : dy1;
  Tensor x2 = y2 - g_out;

  // F at the rebuilt x2: its value rebuilds x1, its vjp adds to dx2.
  Tensor f_out = inline_body(c.graph, *n.regions[0], x2, o.f_captures);
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

}  // namespace reforge::ops
