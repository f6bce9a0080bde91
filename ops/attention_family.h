// A fused-attention op family: three ops that mirror each other.
//   NAME            — structured: its region is the decomposed reference
//                     (models/attention.cc writes it);
//   NAME_fused      — the same computation as one library kernel, run over
//                     every (example, head) slice;
//   NAME_fused_grad — its backward: the inputs' cotangents side by side
//                     along the last axis; inputs: the forward's, its
//                     result's cotangent and (optionally) its result.
// LSH and chunked attention differ in their operands, attributes, kernels
// and library calls, which each family states (ops/lsh_attention.cc,
// ops/chunked_attention.cc); the registration of the three ops, the
// fusable and cotangent checks and the reference evaluation slice by slice
// are here, once.
#pragma once

#include <cstddef>
#include <functional>
#include <string>
#include <vector>

#include "compiler/ir/op_def.h"
#include "compiler/kernel/lowering_hooks.h"
#include "runtime/kernels/lsh_common.h"  // kernels::Scratch

namespace reforge::ops {

struct AttentionFamily {
  std::string name;  // "lsh_attention": the structured op; the fused ops add _fused, _fused_grad
  std::vector<AttrSpec> attrs;
  std::vector<AttrSpec> gradient_attrs;  // besides `attrs`
  // The gradient can also write the forward's result (attribute
  // with_output; compiler/passes/lsh_forward_sharing.h).
  bool gradient_writes_result = false;
  // Or reads it: a sixth input, the forward's result, which the kernel
  // then does not compute (compiler/passes/lsh_forward_sharing.h). The
  // forward writes what the gradient needs of it when the fused forward
  // has the optional integer attribute `forward_extra_attr` set: rows of
  // forward_row_for_gradient(operands) columns, the result first.
  bool gradient_reads_result = false;
  std::string forward_extra_attr;
  std::function<int64_t(const std::vector<TensorType>& inputs)> forward_row_for_gradient;
  // The result's type from the operands (checking them; shape_error names
  // what is wrong).
  std::function<TensorType(const std::vector<TensorType>& inputs, const AttrMap&)> infer_operands;
  // Why the fused kernels cannot run a node with these attributes; "" when
  // they can (the fusion pass then replaces the structured op).
  std::function<std::string(const AttrMap&)> unfusable;
  // The gradient's last axis: the cotangents' widths, and more the call
  // writes (the LSH gradient can also write the result).
  std::function<int64_t(const std::vector<TensorType>& inputs, const AttrMap&)> gradient_row;
  // The fused ops' reference (f64) evaluation and the forward's gradient
  // rule (a NAME_fused_grad node, sliced).
  std::function<HostTensor(const EvalContext&)> eval_fused, eval_fused_grad;
  std::function<std::vector<Tensor>(const VjpContext&)> vjp_fused;
  // The library calls, with their FLOPs, and their workspaces.
  std::function<kir::LibraryCall(const Node&, const std::vector<TensorType>& inputs)> forward_call, gradient_call;
  std::function<int64_t(const Node&, const std::vector<TensorType>& inputs, LibraryDevice)> forward_workspace,
      gradient_workspace;
};

void register_attention_family(const AttentionFamily& family);

// The reference evaluation's loop: run(bh, scratch) for every (example,
// head) slice of q [B, H, ...], one after the other in one scratch of
// `scratch_bytes`.
void for_each_slice(const HostTensor& q, int64_t scratch_bytes,
                    const std::function<void(int64_t bh, kernels::Scratch& scratch)>& run);

// Slice bh's elements of a [B, H, ., .] tensor.
const double* slice_of(const HostTensor& t, int64_t bh);
double* slice_of(HostTensor& t, int64_t bh);

}  // namespace reforge::ops
