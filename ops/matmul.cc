// Batched matrix multiply: [..., m, k] x [..., k, n] -> [..., m, n] with
// equal batch dimensions (the DSL broadcasts them). Lowers to the runtime's
// GEMM, which reads a transposed operand in place.
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
                     // ints: dtype, batch, m, n, k, then whether A and B are
                     // stored transposed (an absorbed swap of the last axes).
                     const Shape& out = c.node.type.shape;
                     int64_t r = static_cast<int64_t>(out.size()), batch = 1;
                     for (int64_t i = 0; i < r - 2; ++i) batch *= out[i];
                     call = {"matmul",
                             {dtype_code(c.node.type.dtype), batch, out[r - 2], out[r - 1], c.inputs[0].shape[r - 1],
                              c.absorbed[0] ? 1 : 0, c.absorbed[1] ? 1 : 0}};
                     call.flops = 2 * batch * out[r - 2] * out[r - 1] * c.inputs[0].shape[r - 1];
                   },
               .absorbs_input = [](int, const Node& producer) { return swaps_last_axes(producer); }});

  // [m, k] x [k, n] + bias [n] broadcast over the rows: a matmul with the
  // bias added in the GEMM's epilogue, to each block of C while it is in
  // cache. Only the back end makes it (compiler/passes/matmul_epilogue),
  // after differentiation: no gradient rule. Its value is the matmul's,
  // then the addition.
  register_op(
      {.name = "matmul_bias",
       .arity = 3,
       .infer =
           [](const InferContext& c) {
             const TensorType &a = c.inputs[0], &b = c.inputs[1], &bias = c.inputs[2];
             if (a.dtype != b.dtype || a.dtype != bias.dtype) shape_error("dtypes differ: " + types_string(c.inputs));
             require_float(a, "matmul_bias operand");
             if (a.rank() != 2 || b.rank() != 2 || bias.rank() != 1 || a.shape[1] != b.shape[0] ||
                 bias.shape[0] != b.shape[1]) {
               shape_error("needs [m, k], [k, n] and [n]: " + types_string(c.inputs));
             }
             return TensorType{a.dtype, {a.shape[0], b.shape[1]}};
           },
       .eval =
           [](const EvalContext& c) {
             const HostTensor &a = *c.inputs[0], &b = *c.inputs[1], &bias = *c.inputs[2];
             HostTensor out(c.node.type);
             const int64_t m = a.shape()[0], k = a.shape()[1], n = b.shape()[1];
             for (int64_t i = 0; i < m; ++i) {
               for (int64_t p = 0; p < k; ++p) {
                 const double a_ip = a.data[i * k + p];
                 for (int64_t j = 0; j < n; ++j) out.data[i * n + j] += a_ip * b.data[p * n + j];
               }
               for (int64_t j = 0; j < n; ++j) out.data[i * n + j] += bias.data[j];
             }
             return out;
           },
       .kind = OpKind::library,
       .library =
           [](const kir::LibraryContext& c, kir::LibraryCall& call) {
             // ints: as matmul's (dtype, batch 1, m, n, k, transposed A, B).
             const Shape& out = c.node.type.shape;
             call = {"matmul_bias",
                     {dtype_code(c.node.type.dtype), 1, out[0], out[1], c.inputs[0].shape[1], c.absorbed[0] ? 1 : 0,
                      c.absorbed[1] ? 1 : 0}};
             call.flops = 2 * out[0] * out[1] * c.inputs[0].shape[1] + out[0] * out[1];
           },
       .absorbs_input = [](int input, const Node& producer) { return input < 2 && swaps_last_axes(producer); }});
}

}  // namespace reforge::ops
