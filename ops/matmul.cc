// Batched matrix multiply: [..., m, k] x [..., k, n] -> [..., m, n] with
// equal batch dimensions (the DSL broadcasts them). Lowers to the runtime's
// GEMM, which reads a transposed operand in place.
#include "compiler/kernel/epilogue_activation.h"
#include "ops/op_helpers.h"

namespace reforge::ops {
namespace {

// A transpose that only swaps the two matrix axes: the GEMM reads its
// input with the operand's transposed flag instead.
bool swaps_last_axes(const Node& n) {
  if (n.op != "transpose") return false;
  const auto& perm = n.attrs.get_ints("perm");
  int64_t r = static_cast<int64_t>(perm.size());
  if (r < 2 || perm[r - 2] != r - 1 || perm[r - 1] != r - 2) return false;
  for (int64_t i = 0; i < r - 2; ++i) {
    if (perm[i] != i) return false;
  }
  return true;
}

// Where matmul_epilogue's optional inputs are (-1: absent): where its
// library call takes them.
struct EpilogueInputs {
  int bias = -1, residual = -1;
};

EpilogueInputs epilogue_inputs(const AttrMap& attrs, int inputs) {
  const runtime::MatmulEpilogueCall call{.bias = attrs.get_int("bias") != 0, .residual = attrs.get_int("residual") != 0};
  if (inputs != call.operands()) {
    shape_error(fmt::format("matmul_epilogue expects {} inputs, got {}", call.operands(), inputs));
  }
  return {call.bias_buffer(), call.residual_buffer()};
}

// The GEMM call of a [m, k] x [k, n] product; `absorbed` says which
// operands are read transposed in place.
runtime::MatmulCall gemm_call(DType dtype, int64_t batch, int64_t m, int64_t n, int64_t k,
                              const std::vector<bool>& absorbed) {
  return {.dtype = dtype, .batch = batch, .m = m, .n = n, .k = k, .a_transposed = absorbed[0],
          .b_transposed = absorbed[1]};
}

}  // namespace

REFORGE_REGISTER_OPS(matmul) {
  register_op({.name = "matmul",
               .arity = 2,
               .infer =
                   [](const InferContext& c) {
                     const TensorType& a = c.inputs[0];
                     const TensorType& b = c.inputs[1];
                     if (a.dtype != b.dtype) shape_error("dtypes differ: " + types_string(c.inputs));
                     require_float(a, "matmul operand");
                     if (a.rank() < 2 || a.rank() != b.rank())
                       shape_error("ranks must be equal and >= 2: " + types_string(c.inputs));
                     int64_t r = a.rank();
                     if (!std::equal(a.shape.begin(), a.shape.end() - 2, b.shape.begin())) {
                       shape_error("batch dimensions differ: " + types_string(c.inputs));
                     }
                     if (a.shape[r - 1] != b.shape[r - 2])
                       shape_error("contraction sizes differ: " + types_string(c.inputs));
                     TensorType out = a;
                     out.shape[r - 1] = b.shape[r - 1];
                     return out;
                   },
               .eval =
                   [](const EvalContext& c) {
                     const HostTensor& a = *c.inputs[0];
                     const HostTensor& b = *c.inputs[1];
                     HostTensor out(c.node.type);
                     int64_t r = a.type.rank();
                     int64_t m = a.shape()[r - 2], k = a.shape()[r - 1], n = b.shape()[r - 1];
                     int64_t batch = 1;
                     for (int64_t i = 0; i < r - 2; ++i) batch *= out.shape()[i];
                     for (int64_t bi = 0; bi < batch; ++bi) {
                       const double* pa = a.data.data() + bi * m * k;
                       const double* pb = b.data.data() + bi * k * n;
                       double* po = out.data.data() + bi * m * n;
                       // Row by row, adding p in ascending order to every
                       // element of the row: each sum runs in the same order
                       // as a dot product would, with contiguous reads.
                       for (int64_t i = 0; i < m; ++i)
                         for (int64_t p = 0; p < k; ++p) {
                           const double a_ip = pa[i * k + p];
                           for (int64_t j = 0; j < n; ++j) po[i * n + j] += a_ip * pb[p * n + j];
                         }
                     }
                     return out;
                   },
               .vjp =
                   [](const VjpContext& c) {
                     // dA = G B^T, dB = A^T G
                     return std::vector<Tensor>{matmul(c.grad, swap_last_axes(c.inputs[1])),
                                                matmul(swap_last_axes(c.inputs[0]), c.grad)};
                   },
               .kind = OpKind::library,
               .library =
                   [](const kir::LibraryContext& c, kir::LibraryCall& call) {
                     // An absorbed swap of the last axes is read in place.
                     const Shape& out = c.node.type.shape;
                     int64_t r = static_cast<int64_t>(out.size()), batch = 1;
                     for (int64_t i = 0; i < r - 2; ++i) batch *= out[i];
                     const int64_t m = out[r - 2], n = out[r - 1], k = c.inputs[0].shape[r - 1];
                     call = kir::LibraryCall::of(gemm_call(c.node.type.dtype, batch, m, n, k, c.absorbed),
                                                 2 * batch * m * n * k);
                   },
               .absorbs_input = [](int, const Node& producer) { return swaps_last_axes(producer); },
               .gemm = true});

  // A matmul with an epilogue the GEMM applies to each block of C right
  // after the block's last product, while it is in cache:
  //   act(a b + bias) + residual      a [m, k], b [k, n], bias [n], residual [m, n]
  // Inputs: a, b, then bias when attr bias is 1, then residual when attr
  // residual is 1. activation names a one-operand elementwise op (gelu,
  // relu) or is empty. Only the back end makes it (compiler/passes/
  // matmul_epilogue), after differentiation: no gradient rule. Its value
  // is that of the ops it replaces, in their order.
  register_op(
      {.name = "matmul_epilogue",
       .arity = -1,
       .attrs = {{"bias", AttrKind::integer}, {"residual", AttrKind::integer}, {"activation", AttrKind::string}},
       .infer =
           [](const InferContext& c) {
             const EpilogueInputs in = epilogue_inputs(c.attrs, static_cast<int>(c.inputs.size()));
             const TensorType &a = c.inputs[0], &b = c.inputs[1];
             for (const TensorType& t : c.inputs) {
               if (t.dtype != a.dtype) shape_error("dtypes differ: " + types_string(c.inputs));
             }
             require_float(a, "matmul_epilogue operand");
             if (a.rank() != 2 || b.rank() != 2 || a.shape[1] != b.shape[0]) {
               shape_error("needs [m, k] and [k, n]: " + types_string(c.inputs));
             }
             const Shape out{a.shape[0], b.shape[1]};
             if (in.bias >= 0 && c.inputs[in.bias].shape != Shape{out[1]}) {
               shape_error("the bias must be [n]: " + types_string(c.inputs));
             }
             if (in.residual >= 0 && c.inputs[in.residual].shape != out) {
               shape_error("the residual must be [m, n]: " + types_string(c.inputs));
             }
             kir::epilogue_activation(c.attrs);  // a known activation
             return TensorType{a.dtype, out};
           },
       .eval =
           [](const EvalContext& c) {
             const EpilogueInputs in = epilogue_inputs(c.node.attrs, static_cast<int>(c.inputs.size()));
             const HostTensor &a = *c.inputs[0], &b = *c.inputs[1];
             HostTensor out(c.node.type);
             const int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
             for (int64_t i = 0; i < m; ++i) {
               for (int64_t p = 0; p < k; ++p) {
                 const double a_ip = a.data[i * k + p];
                 for (int64_t j = 0; j < n; ++j) out.data[i * n + j] += a_ip * b.data[p * n + j];
               }
               if (in.bias >= 0) {
                 for (int64_t j = 0; j < n; ++j) out.data[i * n + j] += c.inputs[in.bias]->data[j];
               }
             }
             if (const OpDef* act = kir::epilogue_activation(c.node.attrs)) {
               // The activation op's own reference definition.
               Graph g("activation");
               const Node& node = g.node(g.add(act->name, {g.input("x", out.type)}, {}, SourceLoc{}).id);
               out = act->eval({node, {&out}, {}});
             }
             if (in.residual >= 0) {
               for (int64_t e = 0; e < m * n; ++e) out.data[e] += c.inputs[in.residual]->data[e];
             }
             return out;
           },
       .kind = OpKind::library,
       .library =
           [](const kir::LibraryContext& c, kir::LibraryCall& call) {
             // The activation is generated code: the op's own element rule.
             const EpilogueInputs in = epilogue_inputs(c.node.attrs, static_cast<int>(c.inputs.size()));
             const Shape& out = c.node.type.shape;
             const int64_t m = out[0], n = out[1], k = c.inputs[0].shape[1];
             const runtime::MatmulEpilogueCall epilogue{.product = gemm_call(c.node.type.dtype, 1, m, n, k, c.absorbed),
                                                        .bias = in.bias >= 0,
                                                        .residual = in.residual >= 0};
             const int64_t epilogue_flops = (in.bias >= 0) + (in.residual >= 0);
             call = kir::LibraryCall::of(epilogue, 2 * m * n * k + epilogue_flops * m * n);
             if (const OpDef* act = kir::epilogue_activation(c.node.attrs)) {
               call.epilogue = kir::activation_kernel(*act, c.node.type.dtype, out[0] * out[1]);
               call.flops += kir::count_flops(*call.epilogue);
             }
           },
       .absorbs_input = [](int input, const Node& producer) { return input < 2 && swaps_last_axes(producer); },
       .gemm = true});
}

}  // namespace reforge::ops
