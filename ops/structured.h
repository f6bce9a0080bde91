// The pieces that expand structured ops into plain nodes, shared by their
// default gradient rules (ops/structured.cc), the expand_structured pass
// and the reversible-recompute rule, so the meaning of a block is written
// once.
#pragma once

#include <vector>

#include "compiler/ir/graph.h"
#include "compiler/ir/op_def.h"

namespace reforge::ops {

// The arguments chunk `k` of a chunked_map node `n` applies its body to:
// slices of the sliced inputs, the other inputs whole.
std::vector<Tensor> chunk_arguments(const Node& n, const std::vector<Tensor>& inputs, int64_t k);

// A chunked_map node's vjp for cotangent `grad`, chunk by chunk: each
// chunk's body is inlined once and differentiated there, so only one
// chunk's intermediates live at a time. With `with_value` the chunks'
// outputs are also joined into the node's value: a rule that needs the
// value as well (reversible recompute rebuilding a stream) then evaluates
// the body once per chunk instead of twice. `grads` follows `inputs`
// (invalid for integer inputs).
struct ValueAndGrads {
  Tensor value;
  std::vector<Tensor> grads;
};
ValueAndGrads chunked_map_value_and_vjp(Graph& graph, const Node& n, const std::vector<Tensor>& inputs,
                                               const Tensor& grad, const Differentiate& differentiate, bool with_value);

// The operands of a reversible node: the stacked streams, then the
// captures of F and of G.
struct ReversibleOperands {
  Tensor streams;
  std::vector<Tensor> f_captures, g_captures;
};
ReversibleOperands reversible_operands(const Node& n, const std::vector<Tensor>& inputs);

// The reversible op's reconstructing gradient rule (its
// OpDef::reconstructing_vjp; ops/reversible_recompute.cc).
std::vector<Tensor> reversible_reconstruction(const VjpContext& c);

// y1 = x1 + F(x2), y2 = x2 + G(y1), with F and G inlined into `graph`.
struct ReversibleOutputs {
  Tensor y1, y2;
};
ReversibleOutputs inline_reversible(Graph& graph, const Node& n, const std::vector<Tensor>& inputs);

// Inlines a region with `first` then `rest` as its arguments; its one output.
Tensor inline_body(Graph& graph, const Graph& region, Tensor first, const std::vector<Tensor>& rest);

// Ops whose one region is their decomposition (lsh_attention,
// chunked_attention): the model writes the reference computation there,
// and a pass may swap the op for a fused kernel.
//   infer_decomposed  — `out` after checking the region takes the op's
//                       operands and returns `out`;
//   eval_decomposed   — runs the region;
//   vjp_decomposed    — differentiates the region inlined;
//   expand_decomposed — inlines the region.
TensorType infer_decomposed(const InferContext& c, const TensorType& out);
HostTensor eval_decomposed(const EvalContext& c);
std::vector<Tensor> vjp_decomposed(const VjpContext& c);
Tensor expand_decomposed(Graph& out, const Node& n, const std::vector<Tensor>& inputs);

}  // namespace reforge::ops
