// Attention over sequence chunks — local (each chunk with the previous
// one) and full (one chunk) — as an attention family
// (ops/attention_family.h):
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
#include "ops/attention_family.h"
#include "ops/op_helpers.h"
#include "runtime/kernels/chunked_attention_kernel.h"

namespace reforge::ops {
namespace {

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

// Slice bh's reference kernel over q, k and v.
ReferenceSlice reference_slice(const EvalContext& c, const kernels::ChunkedAttentionShape& s, int64_t bh,
                               kernels::Scratch& scratch, bool backward) {
  return ReferenceSlice(s, slice_of(*c.inputs[0], bh), slice_of(*c.inputs[1], bh), slice_of(*c.inputs[2], bh),
                        scratch, backward);
}

HostTensor eval_fused(const EvalContext& c) {
  HostTensor result(c.node.type);
  const kernels::ChunkedAttentionShape s = slice_shape(c.node, input_types(c));
  for_each_slice(*c.inputs[0], ReferenceSlice::scratch_bytes(s, false), [&](int64_t bh, kernels::Scratch& scratch) {
    reference_slice(c, s, bh, scratch, false).forward(slice_of(result, bh));
  });
  return result;
}

// Backward of eval_fused for grad g [B,H,L,dv]: [dq | dk | dv].
HostTensor eval_fused_grad(const EvalContext& c) {
  HostTensor result(c.node.type);
  const kernels::ChunkedAttentionShape s = slice_shape(c.node, input_types(c));
  const int64_t row = c.node.type.shape[3];
  for_each_slice(*c.inputs[0], ReferenceSlice::scratch_bytes(s, true), [&](int64_t bh, kernels::Scratch& scratch) {
    reference_slice(c, s, bh, scratch, true).forward_backward(slice_of(*c.inputs[4], bh), slice_of(result, bh), row);
  });
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
  register_attention_family(
      {.name = "chunked_attention",
       .attrs = {{"chunk_len", AttrKind::integer},
                 {"look_back", AttrKind::integer},
                 {"causal", AttrKind::integer},
                 {"mask_self", AttrKind::integer},
                 {"valid_length", AttrKind::integer},
                 {"dropout", AttrKind::real},
                 {"stream", AttrKind::integer}},
       .infer_operands = infer_operands,
       .unfusable = [](const AttrMap& a) -> std::string {
         return a.get_float("dropout") == 0.0 ? "" : "attention without dropout";
       },
       .gradient_row =
           [](const std::vector<TensorType>& in, const AttrMap&) {
             return runtime::ChunkedAttentionGradCall{.forward = {.shape = {.dk = in[0].shape[3], .dv = in[2].shape[3]}}}
                 .row();
           },
       .eval_fused = eval_fused,
       .eval_fused_grad = eval_fused_grad,
       .vjp_fused = vjp_fused,
       .forward_call =
           [](const Node& n, const std::vector<TensorType>& in) {
             const runtime::ChunkedAttentionCall forward = forward_call(n, in);
             return kir::LibraryCall::of(forward, forward_flops(forward));
           },
       .gradient_call =
           [](const Node& n, const std::vector<TensorType>& in) {
             const runtime::ChunkedAttentionGradCall gradient{.forward = forward_call(n, in)};
             return kir::LibraryCall::of(gradient, gradient_flops(gradient.forward));
           },
       .forward_workspace = [](const Node& n, const std::vector<TensorType>& in,
                               LibraryDevice device) { return forward_call(n, in).workspace_bytes(device); },
       .gradient_workspace =
           [](const Node& n, const std::vector<TensorType>& in, LibraryDevice device) {
             return runtime::ChunkedAttentionGradCall{.forward = forward_call(n, in)}.workspace_bytes(device);
           }});
}

}  // namespace reforge::ops
