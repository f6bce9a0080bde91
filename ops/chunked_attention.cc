// Attention over sequence chunks — local (each chunk with the previous
// one) and full (one chunk) — as ops:
//   chunked_attention            — structured: its region is the decomposed
//                                  reference written in models/attention.cc
//                                  (attend_in_chunks);
//   chunked_attention_fused      — the same computation as one kernel,
//                                  flash-attention style: one tile of
//                                  logits at a time
//                                  (runtime/kernels/chunked_attention_kernel.h);
//   chunked_attention_fused_grad — its backward, recomputing each tile's
//                                  logits; returns [dq | dk | dv] along
//                                  the last axis.
// Inputs: q [B,H,L,dk], k [B,H,L,dk] (already scaled, or unit-length for
// shared QK), v [B,H,L,dv], key (i64 scalar: attention dropout's
// randomness); result [B,H,L,dv]. The fused kernels support attention
// without dropout; the fusion pass leaves other configurations decomposed.
#include "ops/op_helpers.h"
#include "ops/structured.h"
#include "runtime/kernels/chunked_attention_kernel.h"

namespace reforge::ops {
namespace {

const std::vector<AttrSpec> kAttrs = {{"chunk_len", AttrKind::integer},    {"look_back", AttrKind::integer},
                                      {"causal", AttrKind::integer},       {"mask_self", AttrKind::integer},
                                      {"valid_length", AttrKind::integer}, {"dropout", AttrKind::real},
                                      {"stream", AttrKind::integer}};

TensorType infer_operands(const std::vector<TensorType>& in, const AttrMap& attrs) {
  if (in.size() < 4) shape_error("needs q, k, v and key");
  const TensorType &q = in[0], &k = in[1], &v = in[2], &key = in[3];
  require_float(q, "q");
  bool ok = q.rank() == 4 && k == q && v.rank() == 4 && v.dtype == q.dtype && v.shape[0] == q.shape[0] &&
            v.shape[1] == q.shape[1] && v.shape[2] == q.shape[2] && is_integer(key.dtype) && key.rank() == 0;
  if (!ok) shape_error("expects q and k [B,H,L,dk], v [B,H,L,dv] and an integer key: " + types_string(in));
  int64_t chunk = attrs.get_int("chunk_len");
  if (chunk < 1 || q.shape[2] % chunk != 0) {
    shape_error(fmt::format("chunk_len {} must divide the length {}", chunk, q.shape[2]));
  }
  return v;
}

void require_fusable(const AttrMap& attrs) {
  if (attrs.get_float("dropout") != 0.0) shape_error("the fused kernel supports attention without dropout");
}

kernels::ChunkedAttentionShape slice_shape(const Node& n, const std::vector<TensorType>& in) {
  const auto& a = n.attrs;
  const int64_t length = in[0].shape[2], valid = a.get_int("valid_length");
  return {.length = length,
          .chunk = a.get_int("chunk_len"),
          .dk = in[0].shape[3],
          .dv = in[2].shape[3],
          .valid = valid > 0 ? valid : length,
          .look_back = a.get_int("look_back") != 0,
          .causal = a.get_int("causal") != 0,
          .mask_self = a.get_int("mask_self") != 0};
}

using ReferenceSlice = kernels::ChunkedAttentionSlice<double>;

HostTensor eval_fused(const EvalContext& c) {
  HostTensor result(c.node.type);
  kernels::ChunkedAttentionShape s = slice_shape(c.node, input_types(c));
  const HostTensor &q = *c.inputs[0], &k = *c.inputs[1], &v = *c.inputs[2];
  std::vector<std::byte> memory(ReferenceSlice::scratch_bytes(s, false));
  for (int64_t bh = 0; bh < q.shape()[0] * q.shape()[1]; ++bh) {
    kernels::Scratch scratch(memory.data());
    ReferenceSlice slice(s, q.data.data() + bh * s.length * s.dk, k.data.data() + bh * s.length * s.dk,
                         v.data.data() + bh * s.length * s.dv, scratch, false);
    slice.forward(result.data.data() + bh * s.length * s.dv);
  }
  return result;
}

// Backward of eval_fused for grad g [B,H,L,dv]: [dq | dk | dv].
HostTensor eval_fused_grad(const EvalContext& c) {
  HostTensor result(c.node.type);
  kernels::ChunkedAttentionShape s = slice_shape(c.node, input_types(c));
  const int64_t row = c.node.type.shape[3];
  const HostTensor &q = *c.inputs[0], &k = *c.inputs[1], &v = *c.inputs[2], &grad = *c.inputs[4];
  std::vector<std::byte> memory(ReferenceSlice::scratch_bytes(s, true));
  for (int64_t bh = 0; bh < q.shape()[0] * q.shape()[1]; ++bh) {
    kernels::Scratch scratch(memory.data());
    ReferenceSlice slice(s, q.data.data() + bh * s.length * s.dk, k.data.data() + bh * s.length * s.dk,
                         v.data.data() + bh * s.length * s.dv, scratch, true);
    slice.forward_backward(grad.data.data() + bh * s.length * s.dv, result.data.data() + bh * s.length * row, row);
  }
  return result;
}

// The fused kernels' library calls, over every (example, head) slice.
// Their workspace is every slice's own scratch, so slices run in parallel
// whatever the thread count (a few rows of numbers per position: O(L),
// not O(L^2)).
runtime::ChunkedAttentionCall forward_call(const Node& n, const std::vector<TensorType>& in) {
  return {.dtype = in[0].dtype, .slices = in[0].shape[0] * in[0].shape[1], .shape = slice_shape(n, in)};
}

// Per (query, key) pair multiplied: the logit and the weighted value
// (two products); the gradient runs the forward, then the logit again,
// dP, dQ, dK and dV.
int64_t pairs(const runtime::ChunkedAttentionCall& c) {
  return c.slices * kernels::ChunkedAttentionSlice<double>::pairs(c.shape);
}
int64_t forward_flops(const runtime::ChunkedAttentionCall& c) { return 2 * pairs(c) * (c.shape.dk + c.shape.dv); }
int64_t gradient_flops(const runtime::ChunkedAttentionCall& c) {
  return forward_flops(c) + 2 * pairs(c) * (3 * c.shape.dk + 2 * c.shape.dv);
}

std::vector<Tensor> vjp_fused(const VjpContext& c) {
  const Node& n = c.node();
  std::vector<Tensor> operands = c.inputs;
  operands.push_back(c.grad);
  Tensor all = c.graph.add("chunked_attention_fused_grad", operands, n.attrs, n.loc);
  const int64_t dk = c.inputs[0].dim(3);
  return {slice(all, 3, 0, dk), slice(all, 3, dk, 2 * dk), slice(all, 3, 2 * dk, all.dim(3)), Tensor{}};
}

}  // namespace

REFORGE_REGISTER_OPS(chunked_attention) {
  register_op({.name = "chunked_attention",
               .arity = 4,
               .attrs = kAttrs,
               .infer = [](const InferContext& c) { return infer_decomposed(c, infer_operands(c.inputs, c.attrs)); },
               .eval = eval_decomposed,
               .vjp = vjp_decomposed,
               .num_regions = 1,
               .kind = OpKind::structured,
               .expand = expand_decomposed,
               // The fused kernels: attention without dropout.
               .fused_form = [](const Node& n) -> std::string {
                 return n.attrs.get_float("dropout") == 0.0 ? "chunked_attention_fused" : "";
               }});
  register_op(
      {.name = "chunked_attention_fused",
       .arity = 4,
       .attrs = kAttrs,
       .infer =
           [](const InferContext& c) {
             require_fusable(c.attrs);
             return infer_operands(c.inputs, c.attrs);
           },
       .eval = eval_fused,
       .vjp = vjp_fused,
       .kind = OpKind::library,
       .library =
           [](const kir::LibraryContext& c, kir::LibraryCall& call) {
             const runtime::ChunkedAttentionCall forward = forward_call(c.node, c.inputs);
             call = kir::LibraryCall::of(forward, forward_flops(forward));
           },
       .workspace_bytes = [](const Node& n, const std::vector<TensorType>& in,
                             LibraryDevice device) { return forward_call(n, in).workspace_bytes(device); }});
  register_op(
      {.name = "chunked_attention_fused_grad",
       .arity = 5,
       .attrs = kAttrs,
       .infer =
           [](const InferContext& c) {
             require_fusable(c.attrs);
             TensorType v = infer_operands(c.inputs, c.attrs);
             if (c.inputs[4] != v) shape_error("the cotangent must have the result's type: " + types_string(c.inputs));
             TensorType out = v;
             out.shape[3] = runtime::ChunkedAttentionGradCall{
                 .forward = {.shape = {.dk = c.inputs[0].shape[3], .dv = v.shape[3]}}}.row();
             return out;
           },
       .eval = eval_fused_grad,
       .kind = OpKind::library,
       .library =
           [](const kir::LibraryContext& c, kir::LibraryCall& call) {
             const runtime::ChunkedAttentionGradCall gradient{.forward = forward_call(c.node, c.inputs)};
             call = kir::LibraryCall::of(gradient, gradient_flops(gradient.forward));
           },
       .workspace_bytes =
           [](const Node& n, const std::vector<TensorType>& in, LibraryDevice device) {
             return runtime::ChunkedAttentionGradCall{.forward = forward_call(n, in)}.workspace_bytes(device);
           }});
}

}  // namespace reforge::ops
