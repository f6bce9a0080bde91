#include "ops/attention_family.h"

#include "ops/op_helpers.h"
#include "ops/structured.h"

namespace reforge::ops {

void register_attention_family(const AttentionFamily& f) {
  if (f.gradient_reads_result && (f.forward_extra_attr.empty() || !f.forward_row_for_gradient)) {
    throw Error(f.name + ": a gradient that reads its forward needs the forward's extra attribute and row");
  }
  const std::string fused = f.name + "_fused", gradient = f.name + "_fused_grad";
  auto require_fusable = [f](const AttrMap& attrs) {
    if (std::string why = f.unfusable(attrs); !why.empty()) shape_error("the fused kernel supports " + why);
  };

  register_op({.name = f.name,
               .arity = 4,
               .attrs = f.attrs,
               .infer = [f](const InferContext& c) { return infer_decomposed(c, f.infer_operands(c.inputs, c.attrs)); },
               .eval = eval_decomposed,
               .vjp = vjp_decomposed,
               .num_regions = 1,
               .kind = OpKind::structured,
               .expand = expand_decomposed,
               .fused_form = [f, fused](const Node& n) { return f.unfusable(n.attrs).empty() ? fused : ""; }});

  std::vector<AttrSpec> fused_attrs = f.attrs;
  if (!f.forward_extra_attr.empty()) fused_attrs.push_back({f.forward_extra_attr, AttrKind::integer, false});
  auto writes_extra = [f](const AttrMap& attrs) {
    return !f.forward_extra_attr.empty() && attrs.get_int_or(f.forward_extra_attr, 0) != 0;
  };
  register_op({.name = fused,
               .arity = 4,
               .attrs = fused_attrs,
               .infer =
                   [f, require_fusable, writes_extra](const InferContext& c) {
                     require_fusable(c.attrs);
                     TensorType out = f.infer_operands(c.inputs, c.attrs);
                     if (writes_extra(c.attrs)) out.shape[3] = f.forward_row_for_gradient(c.inputs);
                     return out;
                   },
               .eval = f.eval_fused,
               .vjp = f.vjp_fused,
               .kind = OpKind::library,
               .library = [f](const kir::LibraryContext& c,
                              kir::LibraryCall& call) { call = f.forward_call(c.node, c.inputs); },
               .workspace_bytes = f.forward_workspace});

  std::vector<AttrSpec> gradient_attrs = f.attrs;
  gradient_attrs.insert(gradient_attrs.end(), f.gradient_attrs.begin(), f.gradient_attrs.end());
  // Operands, cotangent and — where the family's kernel can read it
  // instead of running the forward — the forward's result.
  register_op({.name = gradient,
               .arity = -1,
               .attrs = gradient_attrs,
               .infer =
                   [f, require_fusable](const InferContext& c) {
                     require_fusable(c.attrs);
                     const size_t most = f.gradient_reads_result ? 6 : 5;
                     if (c.inputs.size() < 5 || c.inputs.size() > most) {
                       shape_error(fmt::format("expects the operands, the cotangent{}: {}",
                                               f.gradient_reads_result ? " and optionally the forward's result" : "",
                                               types_string(c.inputs)));
                     }
                     TensorType out = f.infer_operands(c.inputs, c.attrs);
                     if (c.inputs[4] != out) {
                       shape_error("the cotangent must have the result's type: " + types_string(c.inputs));
                     }
                     if (c.inputs.size() == 6) {
                       TensorType forward = out;
                       forward.shape[3] = f.forward_row_for_gradient(c.inputs);
                       if (c.inputs[5] != forward) {
                         shape_error(fmt::format("the forward's result must be {} (with {} set): {}",
                                                 type_to_string(forward), f.forward_extra_attr,
                                                 types_string(c.inputs)));
                       }
                       if (c.attrs.get_int_or("with_output", 0) != 0) {
                         shape_error("a gradient given the forward's result does not write it (with_output)");
                       }
                     }
                     out.shape[3] = f.gradient_row(c.inputs, c.attrs);
                     return out;
                   },
               .eval = f.eval_fused_grad,
               .kind = OpKind::library,
               .library = [f](const kir::LibraryContext& c,
                              kir::LibraryCall& call) { call = f.gradient_call(c.node, c.inputs); },
               .workspace_bytes = f.gradient_workspace,
               .shares_forward_of = f.gradient_writes_result ? fused : "",
               .reads_forward_result = f.gradient_reads_result,
               .forward_extra_attr = f.forward_extra_attr});
}

void for_each_slice(const HostTensor& q, int64_t scratch_bytes,
                    const std::function<void(int64_t bh, kernels::Scratch& scratch)>& run) {
  std::vector<std::byte> memory(static_cast<size_t>(scratch_bytes));
  const int64_t slices = q.shape().at(0) * q.shape().at(1);
  for (int64_t bh = 0; bh < slices; ++bh) {
    kernels::Scratch scratch(memory.data());
    run(bh, scratch);
  }
}

namespace {
int64_t slice_elements(const HostTensor& t) { return t.shape().at(2) * t.shape().at(3); }
}  // namespace

const double* slice_of(const HostTensor& t, int64_t bh) { return t.data.data() + bh * slice_elements(t); }
double* slice_of(HostTensor& t, int64_t bh) { return t.data.data() + bh * slice_elements(t); }

}  // namespace reforge::ops
