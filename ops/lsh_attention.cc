// LSH attention as an attention family (ops/attention_family.h):
//   lsh_attention            — structured: its region is the decomposed
//                              reference (sort, chunk, attend, unsort,
//                              combine) written in models/attention.cc;
//   lsh_attention_fused      — the same computation as one kernel that
//                              works chunk by chunk and never holds the
//                              logits of more than one query;
//   lsh_attention_fused_grad — its backward: recomputes each chunk's logits
//                              instead of storing them (flash-attention
//                              style) and returns [dq | dv] along the last
//                              axis; with attribute with_output = 1,
//                              [dq | dv | result] (it runs the forward
//                              anyway); given the forward's rows with
//                              their logsumexps as a sixth input (a
//                              forward with with_logsumexps = 1: rows of
//                              [result | each round's logsumexp]), it
//                              runs no forward at all (see
//                              compiler/passes/lsh_forward_sharing.h).
// Inputs: q [B,H,Lp,dk], v [B,H,Lp,dv], buckets [B,H,R,Lp] (i64, padded
// positions in bucket buckets_per_round-1), key (i64 scalar); result
// [B,H,Lp,dv]. The fused kernels support the trax mode without attention
// dropout; the fusion pass leaves other configurations decomposed.
#include "ops/attention_family.h"
#include "ops/op_helpers.h"
#include "runtime/kernels/lsh_attention_kernel.h"
#include "runtime/kernels/lsh_attention_reference.h"

namespace reforge::ops {
namespace {

TensorType infer_operands(const std::vector<TensorType>& in, const AttrMap& attrs) {
  if (in.size() < 4) shape_error("needs q, v, buckets and key");
  const TensorType &q = in[0], &v = in[1], &buckets = in[2], &key = in[3];
  require_float(q, "q");
  bool ok = q.rank() == 4 && v.rank() == 4 && buckets.rank() == 4 && v.dtype == q.dtype && v.shape[0] == q.shape[0] &&
            v.shape[1] == q.shape[1] && v.shape[2] == q.shape[2] && buckets.shape[0] == q.shape[0] &&
            buckets.shape[1] == q.shape[1] && buckets.shape[3] == q.shape[2] && is_integer(buckets.dtype) &&
            is_integer(key.dtype) && key.rank() == 0;
  if (!ok) shape_error("expects q [B,H,L,dk], v [B,H,L,dv], buckets [B,H,R,L] and an integer key: " + types_string(in));
  int64_t chunk = attrs.get_int("chunk_len");
  if (chunk < 1 || (buckets.shape[2] * q.shape[2]) % chunk != 0) {
    shape_error(fmt::format("chunk_len {} must divide rounds x length = {}", chunk, buckets.shape[2] * q.shape[2]));
  }
  return v;
}

kernels::LshShape slice_shape(const Node& n, const std::vector<TensorType>& in) {
  const auto& a = n.attrs;
  return {.length = in[0].shape[2],
          .rounds = in[2].shape[2],
          .chunk = a.get_int("chunk_len"),
          .dk = in[0].shape[3],
          .dv = in[1].shape[3],
          .valid = a.get_int("valid_length"),
          .per_round = a.get_int("buckets_per_round"),
          .causal = a.get_int("causal") != 0};
}

using ReferenceSlice = kernels::ReferenceLshSlice<double>;

bool with_output(const AttrMap& attrs) { return attrs.get_int_or("with_output", 0) != 0; }
bool with_logsumexps(const AttrMap& attrs) { return attrs.get_int_or("with_logsumexps", 0) != 0; }

// Slice bh's reference kernel over q, v and buckets.
ReferenceSlice reference_slice(const EvalContext& c, const kernels::LshShape& s, int64_t bh, kernels::Scratch& scratch,
                               bool backward) {
  return ReferenceSlice(s, slice_of(*c.inputs[0], bh), slice_of(*c.inputs[1], bh), slice_of(*c.inputs[2], bh),
                        scratch, backward);
}

HostTensor eval_fused(const EvalContext& c) {
  HostTensor result(c.node.type);
  const kernels::LshShape s = slice_shape(c.node, input_types(c));
  const int64_t row = c.node.type.shape[3];
  for_each_slice(*c.inputs[0], ReferenceSlice::scratch_bytes(s, false), [&](int64_t bh, kernels::Scratch& scratch) {
    ReferenceSlice slice = reference_slice(c, s, bh, scratch, false);
    slice.forward();
    slice.combine(slice_of(result, bh), row);
    if (with_logsumexps(c.node.attrs)) slice.write_logsumexps(slice_of(result, bh), row);
  });
  return result;
}

// Backward of eval_fused for grad g [B,H,L,dv]; writes [dq | dv], or
// [dq | dv | result] with_output. A forward result given as a sixth input
// is not read: the reference computes it, from the definition.
HostTensor eval_fused_grad(const EvalContext& c) {
  HostTensor result(c.node.type);
  const kernels::LshShape s = slice_shape(c.node, input_types(c));
  const int64_t row = c.node.type.shape[3];
  for_each_slice(*c.inputs[0], ReferenceSlice::scratch_bytes(s, true), [&](int64_t bh, kernels::Scratch& scratch) {
    ReferenceSlice slice = reference_slice(c, s, bh, scratch, true);
    slice.forward();
    double* rows = slice_of(result, bh);
    slice.backward(slice_of(*c.inputs[4], bh), rows, row);
    if (with_output(c.node.attrs)) slice.combine(rows + s.dk + s.dv, row);
  });
  return result;
}

// The fused kernels' library calls, over every (example, head) slice.
runtime::LshAttentionCall forward_call(const Node& n, const std::vector<TensorType>& in) {
  return {.dtype = in[0].dtype,
          .bucket_type = in[2].dtype,
          .slices = in[0].shape[0] * in[0].shape[1],
          .shape = slice_shape(n, in),
          .with_logsumexps = with_logsumexps(n.attrs)};
}

runtime::LshAttentionGradCall gradient_call(const Node& n, const std::vector<TensorType>& in) {
  return {.forward = forward_call(n, in), .with_output = with_output(n.attrs), .given_result = in.size() == 6};
}

// Per query slot: logits against 2C keys and the weighted sum of 2C
// values (two products); the gradient runs the forward (unless given
// it), then recomputes the logits and does four more products (dP, dQ,
// dK, dV): seven (five).
// One chunk product over every slot: each query slot against its 2C
// keys, `width` deep (dk for the logits, dv for the values' products).
int64_t chunk_product_flops(const runtime::LshAttentionCall& c, int64_t width) {
  const kernels::LshShape& s = c.shape;
  return 2 * c.slices * s.rounds * s.length * 2 * s.chunk * width;
}
int64_t forward_flops(const runtime::LshAttentionCall& c) {
  return chunk_product_flops(c, c.shape.dk) + chunk_product_flops(c, c.shape.dv);
}
int64_t gradient_flops(const runtime::LshAttentionGradCall& c) {
  const runtime::LshAttentionCall& f = c.forward;
  const int64_t logits = chunk_product_flops(f, f.shape.dk), values = chunk_product_flops(f, f.shape.dv);
  // S = QK^T, dS K, dS^T Q are dk deep; dP = dO V^T, P^T dO dv deep.
  return (c.given_result ? 0 : forward_flops(f)) + 3 * logits + 2 * values;
}

std::vector<Tensor> vjp_fused(const VjpContext& c) {
  const Node& n = c.node();
  Tensor q = c.inputs[0];
  std::vector<Tensor> operands = c.inputs;
  operands.push_back(c.grad);
  Tensor both = c.graph.add("lsh_attention_fused_grad", operands, n.attrs, n.loc);
  int64_t dk = q.dim(3);
  return {slice(both, 3, 0, dk), slice(both, 3, dk, both.dim(3)), Tensor{}, Tensor{}};
}

}  // namespace

REFORGE_REGISTER_OPS(lsh_attention) {
  register_attention_family(
      {.name = "lsh_attention",
       .attrs = {{"chunk_len", AttrKind::integer},
                 {"causal", AttrKind::integer},
                 {"valid_length", AttrKind::integer},
                 {"buckets_per_round", AttrKind::integer},
                 {"paper_mode", AttrKind::integer},
                 {"dropout", AttrKind::real},
                 {"stream", AttrKind::integer}},
       .gradient_attrs = {{"with_output", AttrKind::integer, /*required=*/false}},
       .gradient_writes_result = true,
       .gradient_reads_result = true,
       .forward_extra_attr = "with_logsumexps",
       .forward_row_for_gradient =
           [](const std::vector<TensorType>& in) {
             return runtime::LshAttentionGradCall{
                 .forward = {.shape = {.rounds = in[2].shape[2], .dv = in[1].shape[3]}}}
                 .given_row();
           },
       .infer_operands = infer_operands,
       .unfusable = [](const AttrMap& a) -> std::string {
         const bool fusable = a.get_int("paper_mode") == 0 && a.get_float("dropout") == 0.0;
         return fusable ? "" : "trax mode without attention dropout";
       },
       .gradient_row =
           [](const std::vector<TensorType>& in, const AttrMap& a) {
             return runtime::LshAttentionGradCall{.forward = {.shape = {.dk = in[0].shape[3], .dv = in[1].shape[3]}},
                                                  .with_output = with_output(a)}
                 .row();
           },
       .eval_fused = eval_fused,
       .eval_fused_grad = eval_fused_grad,
       .vjp_fused = vjp_fused,
       .forward_call =
           [](const Node& n, const std::vector<TensorType>& in) {
             const runtime::LshAttentionCall forward = forward_call(n, in);
             return kir::LibraryCall::of(forward, forward_flops(forward));
           },
       .gradient_call =
           [](const Node& n, const std::vector<TensorType>& in) {
             const runtime::LshAttentionGradCall gradient = gradient_call(n, in);
             return kir::LibraryCall::of(gradient, gradient_flops(gradient));
           },
       // Every slice's own scratch, so slices run in parallel whatever the
       // thread count.
       .forward_workspace = [](const Node& n, const std::vector<TensorType>& in,
                               LibraryDevice device) { return forward_call(n, in).workspace_bytes(device); },
       .gradient_workspace = [](const Node& n, const std::vector<TensorType>& in,
                                LibraryDevice device) { return gradient_call(n, in).workspace_bytes(device); }});
}

}  // namespace reforge::ops
