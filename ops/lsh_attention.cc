// LSH attention as ops:
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
//                              anyway; see compiler/passes/lsh_forward_sharing.h).
// Inputs: q [B,H,Lp,dk], v [B,H,Lp,dv], buckets [B,H,R,Lp] (i64, padded
// positions in bucket buckets_per_round-1), key (i64 scalar); result
// [B,H,Lp,dv]. The fused kernels support the trax mode without attention
// dropout; the fusion pass leaves other configurations decomposed.
#include "ops/op_helpers.h"
#include "ops/structured.h"
#include "runtime/kernels/lsh_attention_kernel.h"
#include "runtime/kernels/lsh_attention_reference.h"

namespace reforge::ops {
namespace {

const std::vector<AttrSpec> kAttrs = {{"chunk_len", AttrKind::integer},    {"causal", AttrKind::integer},
                                      {"valid_length", AttrKind::integer}, {"buckets_per_round", AttrKind::integer},
                                      {"paper_mode", AttrKind::integer},   {"dropout", AttrKind::real},
                                      {"stream", AttrKind::integer}};

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

void require_fusable(const AttrMap& attrs) {
  if (attrs.get_int("paper_mode") != 0 || attrs.get_float("dropout") != 0.0) {
    shape_error("the fused kernel supports trax mode without attention dropout");
  }
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

HostTensor eval_fused(const EvalContext& c) {
  HostTensor result(c.node.type);
  kernels::LshShape s = slice_shape(c.node, input_types(c));
  const HostTensor &q = *c.inputs[0], &v = *c.inputs[1], &buckets = *c.inputs[2];
  std::vector<std::byte> memory(ReferenceSlice::scratch_bytes(s, false));
  for (int64_t bh = 0; bh < q.shape()[0] * q.shape()[1]; ++bh) {
    kernels::Scratch scratch(memory.data());
    ReferenceSlice slice(s, q.data.data() + bh * s.length * s.dk, v.data.data() + bh * s.length * s.dv,
                         buckets.data.data() + bh * s.rounds * s.length, scratch, false);
    slice.forward();
    slice.combine(result.data.data() + bh * s.length * s.dv);
  }
  return result;
}

bool with_output(const AttrMap& attrs) { return attrs.get_int_or("with_output", 0) != 0; }

// Backward of eval_fused for grad g [B,H,L,dv]; writes [dq | dv], or
// [dq | dv | result] with_output.
HostTensor eval_fused_grad(const EvalContext& c) {
  HostTensor result(c.node.type);
  kernels::LshShape s = slice_shape(c.node, input_types(c));
  const int64_t row = c.node.type.shape[3];
  const HostTensor &q = *c.inputs[0], &v = *c.inputs[1], &buckets = *c.inputs[2], &grad = *c.inputs[4];
  std::vector<std::byte> memory(ReferenceSlice::scratch_bytes(s, true));
  for (int64_t bh = 0; bh < q.shape()[0] * q.shape()[1]; ++bh) {
    kernels::Scratch scratch(memory.data());
    ReferenceSlice slice(s, q.data.data() + bh * s.length * s.dk, v.data.data() + bh * s.length * s.dv,
                         buckets.data.data() + bh * s.rounds * s.length, scratch, true);
    slice.forward();
    double* rows = result.data.data() + bh * s.length * row;
    slice.backward(grad.data.data() + bh * s.length * s.dv, rows, row);
    if (with_output(c.node.attrs)) slice.combine(rows + s.dk + s.dv, row);
  }
  return result;
}

// The fused kernels' library calls, over every (example, head) slice.
runtime::LshAttentionCall forward_call(const Node& n, const std::vector<TensorType>& in) {
  return {.dtype = in[0].dtype,
          .bucket_type = in[2].dtype,
          .slices = in[0].shape[0] * in[0].shape[1],
          .shape = slice_shape(n, in)};
}

runtime::LshAttentionGradCall gradient_call(const Node& n, const std::vector<TensorType>& in) {
  return {.forward = forward_call(n, in), .with_output = with_output(n.attrs)};
}

// Per query slot: logits against 2C keys and the weighted sum of 2C
// values (two products); the gradient runs the forward, then recomputes
// the logits and does four more products (dP, dQ, dK, dV): seven.
int64_t forward_flops(const runtime::LshAttentionCall& c) {
  const kernels::LshShape& s = c.shape;
  return 2 * c.slices * s.rounds * s.length * 2 * s.chunk * (s.dk + s.dv);
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
  register_op({.name = "lsh_attention",
               .arity = 4,
               .attrs = kAttrs,
               .infer = [](const InferContext& c) { return infer_decomposed(c, infer_operands(c.inputs, c.attrs)); },
               .eval = eval_decomposed,
               .vjp = vjp_decomposed,
               .num_regions = 1,
               .kind = OpKind::structured,
               .expand = expand_decomposed,
               // The fused kernels: the trax mode without attention dropout.
               .fused_form = [](const Node& n) -> std::string {
                 const bool fusable = n.attrs.get_int("paper_mode") == 0 && n.attrs.get_float("dropout") == 0.0;
                 return fusable ? "lsh_attention_fused" : "";
               }});
  register_op({.name = "lsh_attention_fused",
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
                     const runtime::LshAttentionCall forward = forward_call(c.node, c.inputs);
                     call = kir::LibraryCall::of(forward, forward_flops(forward));
                   },
               // Every slice's own scratch, so slices run in parallel
               // whatever the thread count.
               .workspace_bytes = [](const Node& n, const std::vector<TensorType>& in, LibraryDevice device) {
                 return forward_call(n, in).workspace_bytes(device);
               }});
  std::vector<AttrSpec> grad_attrs = kAttrs;
  grad_attrs.push_back({"with_output", AttrKind::integer, /*required=*/false});
  register_op(
      {.name = "lsh_attention_fused_grad",
       .arity = 5,
       .attrs = grad_attrs,
       .infer =
           [](const InferContext& c) {
             require_fusable(c.attrs);
             TensorType v = infer_operands(c.inputs, c.attrs);
             if (c.inputs[4] != v) shape_error("the cotangent must have the result's type: " + types_string(c.inputs));
             TensorType out = v;
             out.shape[3] = runtime::LshAttentionGradCall{
                 .forward = {.shape = {.dk = c.inputs[0].shape[3], .dv = v.shape[3]}},
                 .with_output = with_output(c.attrs)}.row();
             return out;
           },
       .eval = eval_fused_grad,
       .kind = OpKind::library,
       .library =
           [](const kir::LibraryContext& c, kir::LibraryCall& call) {
             const runtime::LshAttentionGradCall gradient = gradient_call(c.node, c.inputs);
             call = kir::LibraryCall::of(gradient, forward_flops(gradient.forward) * 7 / 2);
           },
       .workspace_bytes = [](const Node& n, const std::vector<TensorType>& in,
                             LibraryDevice device) { return gradient_call(n, in).workspace_bytes(device); },
       .shares_forward_of = "lsh_attention_fused"});
}

}  // namespace reforge::ops
