// Layer normalisation over the last axis, as two row ops:
//   layer_norm(x, gamma, beta)       y  = (x - mean) / sqrt(var + eps) * gamma + beta
//   layer_norm_grad(x, gamma, dy)    dx = its gradient with respect to x
// where mean and var (the biased variance) are each row's. Each is one
// kernel: per row, the statistics in passes over the row (in L1), then the
// row written. Spelled as elementwise ops and reductions, a layer norm was
// several kernels each way that stored centred rows and statistics and
// read them back, [rows, width] arrays that outgrow the caches (P1 at 4K,
// --profile: its layer norms 44.8 -> 23.2 ms a step). The gradients of
// gamma and beta are sums over the rows, of dy times the forward without
// its scale and shift (rebuilt) and of dy.
#include <cmath>

#include "ops/op_helpers.h"

namespace reforge::ops {
namespace {

using kir::UnaryOp;

// x [..., width], a float tensor; an operand of x's dtype and `shape`.
const TensorType& row_op_input(const InferContext& c) {
  const TensorType& x = c.inputs[0];
  require_float(x, "x");
  if (x.rank() < 1) shape_error(fmt::format("x must have at least one axis, got {}", type_to_string(x)));
  return x;
}
void require_operand(const TensorType& x, const TensorType& t, const char* name, const Shape& shape) {
  if (t.dtype == x.dtype && t.shape == shape) return;
  shape_error(fmt::format("{} must be {} for x {}, got {}", name, type_to_string({x.dtype, shape}), type_to_string(x),
                          type_to_string(t)));
}

TensorType infer_layer_norm(const InferContext& c) {
  const TensorType& x = row_op_input(c);
  require_operand(x, c.inputs[1], "gamma", {x.shape.back()});
  require_operand(x, c.inputs[2], "beta", {x.shape.back()});
  return x;
}

TensorType infer_layer_norm_grad(const InferContext& c) {
  const TensorType& x = row_op_input(c);
  require_operand(x, c.inputs[1], "gamma", {x.shape.back()});
  require_operand(x, c.inputs[2], "dy", x.shape);
  return x;
}

// Each row's mean and 1 / sqrt(var + eps), in double (the reference).
struct RowStatistics {
  double mean = 0, inverse_deviation = 0;
};
RowStatistics row_statistics(const HostTensor& x, int64_t row, int64_t width, double epsilon) {
  double sum = 0;
  for (int64_t j = 0; j < width; ++j) sum += x[row * width + j];
  const double mean = sum / static_cast<double>(width);
  double squares = 0;
  for (int64_t j = 0; j < width; ++j) squares += (x[row * width + j] - mean) * (x[row * width + j] - mean);
  return {mean, 1.0 / std::sqrt(squares / static_cast<double>(width) + epsilon)};
}

// The node's result, row by row: for each row of input 0 (x), starting at
// flat index `at`, row(at, width, its statistics, x, out) writes that row
// of out.
template <typename Row>
HostTensor by_rows(const EvalContext& c, const Row& row) {
  const HostTensor& x = *c.inputs[0];
  const int64_t width = x.shape().back(), rows = x.size() / std::max<int64_t>(width, 1);
  const double epsilon = c.node.attrs.get_float("epsilon");
  HostTensor out(c.node.type);
  for (int64_t r = 0; r < rows; ++r) row(r * width, width, row_statistics(x, r, width, epsilon), x, out);
  return out;
}

HostTensor eval_layer_norm(const EvalContext& c) {
  const HostTensor &gamma = *c.inputs[1], &beta = *c.inputs[2];
  return by_rows(c, [&](int64_t at, int64_t width, const RowStatistics& s, const HostTensor& x, HostTensor& y) {
    for (int64_t j = 0; j < width; ++j) y[at + j] = (x[at + j] - s.mean) * s.inverse_deviation * gamma[j] + beta[j];
  });
}

// With g = dy * gamma and xhat = (x - mean) * s (s = 1 / sqrt(var + eps)):
// dx = s * (g - mean(g) - xhat * mean(g * xhat)).
HostTensor eval_layer_norm_grad(const EvalContext& c) {
  const HostTensor &gamma = *c.inputs[1], &dy = *c.inputs[2];
  return by_rows(c, [&](int64_t at, int64_t width, const RowStatistics& s, const HostTensor& x, HostTensor& dx) {
    auto g = [&](int64_t j) { return dy[at + j] * gamma[j]; };
    auto xhat = [&](int64_t j) { return (x[at + j] - s.mean) * s.inverse_deviation; };
    double g_sum = 0, gx_sum = 0;
    for (int64_t j = 0; j < width; ++j) {
      g_sum += g(j);
      gx_sum += g(j) * xhat(j);
    }
    const double g_mean = g_sum / static_cast<double>(width), gx_mean = gx_sum / static_cast<double>(width);
    for (int64_t j = 0; j < width; ++j) dx[at + j] = s.inverse_deviation * (g(j) - g_mean - xhat(j) * gx_mean);
  });
}

// The kernels: one parallel loop over rows (begin_lines); inside it, a
// loop per pass.
struct RowLoops {
  std::vector<ValueId> row;  // the row's coordinates, the last one to fill (at_column)
  int64_t width = 0;
  ValueId mean, inverse_deviation;
};

std::vector<ValueId> at_column(const std::vector<ValueId>& row, ValueId j) {
  return at(row, static_cast<int64_t>(row.size()) - 1, j);
}

// Opens the loop over rows and takes the row's statistics of input 0.
RowLoops begin_rows(kir::KernelContext& c) {
  KernelBuilder& b = c.b;
  const Shape& shape = c.inputs[0].shape;
  RowLoops r;
  r.width = shape.back();
  r.row = begin_lines(b, shape, static_cast<int64_t>(shape.size()) - 1);
  const DType dtype = c.inputs[0].dtype;
  const ValueId inverse_width = b.constant(dtype, 1.0 / static_cast<double>(r.width));
  int sum = b.accumulator(dtype);
  b.assign(sum, b.constant(dtype, 0.0));
  ValueId j = b.begin_loop(r.width);
  b.assign(sum, b.add(b.read(sum), c.read(0, at_column(r.row, j))));
  b.end_loop();
  r.mean = b.mul(b.read(sum), inverse_width);
  int squares = b.accumulator(dtype);
  b.assign(squares, b.constant(dtype, 0.0));
  j = b.begin_loop(r.width);
  ValueId centred = b.sub(c.read(0, at_column(r.row, j)), r.mean);
  b.assign(squares, b.add(b.read(squares), b.mul(centred, centred)));
  b.end_loop();
  const ValueId variance = b.mul(b.read(squares), inverse_width);
  const ValueId epsilon = b.constant(dtype, c.node.attrs.get_float("epsilon"));
  r.inverse_deviation = b.div(b.constant(dtype, 1.0), b.unary(UnaryOp::sqrt, b.add(variance, epsilon)));
  return r;
}

ValueId normalised(kir::KernelContext& c, const RowLoops& r, ValueId j) {
  return c.b.mul(c.b.sub(c.read(0, at_column(r.row, j)), r.mean), r.inverse_deviation);
}

void lower_layer_norm(kir::KernelContext& c) {
  KernelBuilder& b = c.b;
  RowLoops r = begin_rows(c);
  ValueId j = b.begin_loop(r.width);
  c.store(at_column(r.row, j), b.add(b.mul(normalised(c, r, j), c.read(1, {j})), c.read(2, {j})));
  b.end_loop();
  b.end_loop_nest();
}

void lower_layer_norm_grad(kir::KernelContext& c) {
  KernelBuilder& b = c.b;
  RowLoops r = begin_rows(c);
  const DType dtype = c.inputs[0].dtype;
  auto g_at = [&](ValueId j) { return b.mul(c.read(2, at_column(r.row, j)), c.read(1, {j})); };
  int g_sum = b.accumulator(dtype), gx_sum = b.accumulator(dtype);
  b.assign(g_sum, b.constant(dtype, 0.0));
  b.assign(gx_sum, b.constant(dtype, 0.0));
  ValueId j = b.begin_loop(r.width);
  ValueId g = g_at(j);
  b.assign(g_sum, b.add(b.read(g_sum), g));
  b.assign(gx_sum, b.add(b.read(gx_sum), b.mul(g, normalised(c, r, j))));
  b.end_loop();
  const ValueId inverse_width = b.constant(dtype, 1.0 / static_cast<double>(r.width));
  const ValueId g_mean = b.mul(b.read(g_sum), inverse_width), gx_mean = b.mul(b.read(gx_sum), inverse_width);
  j = b.begin_loop(r.width);
  ValueId inner = b.sub(b.sub(g_at(j), g_mean), b.mul(normalised(c, r, j), gx_mean));
  c.store(at_column(r.row, j), b.mul(r.inverse_deviation, inner));
  b.end_loop();
  b.end_loop_nest();
}

// The sum of t over every axis but the last: [..., width] -> [width].
Tensor sum_to_row(Tensor t) {
  std::vector<int64_t> axes;
  for (int64_t a = 0; a + 1 < t.rank(); ++a) axes.push_back(a);
  return axes.empty() ? t : sum(t, axes, false);
}

}  // namespace

REFORGE_REGISTER_OPS(normalization) {
  const std::vector<AttrSpec> attrs = {{"epsilon", AttrKind::real}};
  register_op({.name = "layer_norm",
               .arity = 3,
               .attrs = attrs,
               .infer = infer_layer_norm,
               .eval = eval_layer_norm,
               .vjp =
                   [](const VjpContext& c) {
                     Tensor x = c.inputs[0], gamma = c.inputs[1];
                     const double epsilon = c.node().attrs.get_float("epsilon");
                     const TensorType row = gamma.type();
                     Tensor xhat = layer_norm(x, constant(c.graph, 1.0, row), constant(c.graph, 0.0, row), epsilon);
                     return std::vector<Tensor>{layer_norm_grad(x, gamma, c.grad, epsilon),
                                                sum_to_row(c.grad * xhat), sum_to_row(c.grad)};
                   },
               .kind = OpKind::reduction,
               .kernel = lower_layer_norm});
  register_op({.name = "layer_norm_grad",
               .arity = 3,
               .attrs = attrs,
               .infer = infer_layer_norm_grad,
               .eval = eval_layer_norm_grad,
               .kind = OpKind::reduction,
               .kernel = lower_layer_norm_grad});
}

}  // namespace reforge::ops
