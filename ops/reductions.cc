// Reductions: reduce_sum and reduce_max over a set of axes, argmax,
// logsumexp and softmax along one axis (stable: they subtract the max).
#include <cmath>
#include <limits>

#include "ops/op_helpers.h"

namespace reforge::ops {
namespace {

Shape reduced_shape(const Shape& in, const std::vector<int64_t>& axes, bool keepdims) {
  Shape out;
  for (int64_t i = 0; i < static_cast<int64_t>(in.size()); ++i) {
    bool reduced = std::find(axes.begin(), axes.end(), i) != axes.end();
    if (!reduced)
      out.push_back(in[i]);
    else if (keepdims)
      out.push_back(1);
  }
  return out;
}

// For every input element, the flat index of the output element it reduces into.
std::vector<int64_t> reduction_targets(const Shape& in, const std::vector<int64_t>& axes) {
  Shape kept = reduced_shape(in, axes, true);
  auto kept_strides = row_major_strides(kept);
  std::vector<int64_t> strides(in.size());
  for (size_t d = 0; d < in.size(); ++d) strides[d] = kept[d] == 1 ? 0 : kept_strides[d];
  std::vector<int64_t> targets(num_elements(in));
  for_each_strided(in, strides, [&](int64_t flat, int64_t target) { targets[flat] = target; });
  return targets;
}

TensorType infer_reduce(const InferContext& c) {
  const auto& axes = c.attrs.get_ints("axes");
  for (size_t i = 0; i < axes.size(); ++i) {
    require_axis(axes[i], c.inputs[0].rank());
    if (i > 0 && axes[i] <= axes[i - 1]) shape_error("axes must be sorted and unique");
  }
  return TensorType{c.inputs[0].dtype, reduced_shape(c.inputs[0].shape, axes, c.attrs.get_int("keepdims") != 0)};
}

// Shape of the reduction output with the reduced axes kept as size 1; used
// to broadcast a reduced value back against its input.
Shape keepdims_shape(const Node& n, const Shape& in) {
  std::vector<int64_t> axes =
      n.attrs.has("axes") ? n.attrs.get_ints("axes") : std::vector<int64_t>{n.attrs.get_int("axis")};
  return reduced_shape(in, axes, true);
}

Tensor expand_back(Tensor reduced, const Node& n, const Shape& in) {
  return broadcast_to(reshape(reduced, keepdims_shape(n, in)), in);
}

HostTensor eval_reduce(const EvalContext& c, bool is_max) {
  const HostTensor& x = *c.inputs[0];
  HostTensor out(c.node.type);
  std::fill(out.data.begin(), out.data.end(), is_max ? -std::numeric_limits<double>::infinity() : 0.0);
  auto targets = reduction_targets(x.shape(), c.node.attrs.get_ints("axes"));
  for (int64_t i = 0; i < x.size(); ++i) {
    double& o = out[targets[i]];
    o = is_max ? std::max(o, x[i]) : o + x[i];
  }
  return out;
}

TensorType infer_along_axis(const InferContext& c, bool keep_axis) {
  TensorType t = c.inputs[0];
  int64_t axis = c.attrs.get_int("axis");
  require_axis(axis, t.rank());
  require_float(t, "input");
  if (!keep_axis) {
    bool keepdims = c.attrs.get_int_or("keepdims", 0) != 0;
    if (keepdims)
      t.shape[axis] = 1;
    else
      t.shape.erase(t.shape.begin() + axis);
  }
  return t;
}

// Applies fn(row pointer, stride, extent) to each 1-D line along `axis`.
template <typename Fn>
void for_each_line(const Shape& shape, int64_t axis, Fn fn) {
  AxisSplit s = split_at(shape, axis);
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t i = 0; i < s.inner; ++i) fn(o * s.extent * s.inner + i, s.inner, s.extent, o * s.inner + i);
}

// ---- lowering ----

using kir::BinaryOp;
using kir::UnaryOp;

double lowest(DType dtype) { return is_float(dtype) ? -std::numeric_limits<double>::infinity() : -9007199254740992.0; }

ValueId combine(KernelBuilder& b, bool is_max, ValueId so_far, ValueId x) {
  return is_max ? b.select(b.binary(BinaryOp::lt, so_far, x), x, so_far) : b.add(so_far, x);
}

// The reduction of an input whose last axis is kept and whose next-to-last
// is reduced (a bias gradient: the sum over the rows of [N, M]), when the
// target asks (ReductionSchedule::rows_into_row_max): walks the input row
// by row, adding whole rows into the output row, so every read streams.
// The parallel loop is over the kept outer coordinates; each output
// element is the sum over the reduced coordinates in ascending order.
bool lower_reduce_by_rows(kir::KernelContext& c, bool is_max) {
  KernelBuilder& b = c.b;
  const Shape& in = c.inputs[0].shape;
  const auto& axes = c.node.attrs.get_ints("axes");
  const auto rank = static_cast<int64_t>(in.size());
  auto reduced = [&](int64_t d) { return std::find(axes.begin(), axes.end(), d) != axes.end(); };
  if (rank < 2 || reduced(rank - 1) || !reduced(rank - 2) || in[rank - 1] > c.schedule.rows_into_row_max) return false;
  std::vector<int64_t> kept_dims, reduced_dims;
  int64_t kept_count = 1, reduced_count = 1;
  for (int64_t d = 0; d + 1 < rank; ++d) {
    (reduced(d) ? reduced_dims : kept_dims).push_back(d);
    (reduced(d) ? reduced_count : kept_count) *= in[d];
  }
  const bool keepdims = c.node.attrs.get_int("keepdims") != 0;
  const DType dtype = c.node.type.dtype;
  std::vector<ValueId> coords(rank);  // of the input
  // Flat index `flat` over the dims `dims` of the input, into coords.
  auto place = [&](ValueId flat, const std::vector<int64_t>& dims) {
    Shape extents;
    for (int64_t d : dims) extents.push_back(in[d]);
    std::vector<ValueId> at = unravel(b, flat, extents);
    for (size_t i = 0; i < dims.size(); ++i) coords[dims[i]] = at[i];
  };
  place(b.begin_loop(kept_count), kept_dims);
  auto output_index = [&](ValueId column) {
    std::vector<ValueId> out;
    for (int64_t d = 0; d + 1 < rank; ++d) {
      if (!reduced(d)) out.push_back(coords[d]);
      if (reduced(d) && keepdims) out.push_back(b.index_constant(0));
    }
    out.push_back(column);
    return b.flat_index(out, c.node.type.shape);
  };
  ValueId j = b.begin_loop(in[rank - 1]);
  b.store(c.output, output_index(j), b.constant(dtype, is_max ? lowest(dtype) : 0.0));
  b.end_loop();
  // Several input rows per pass over the output row, added in order in one
  // expression: the output is loaded and stored once per `unroll` rows.
  int64_t unroll = std::max<int64_t>(c.schedule.rows_per_pass, 1);
  while (reduced_count % unroll != 0) unroll /= 2;
  ValueId rows = b.begin_loop(reduced_count / unroll);
  j = b.begin_loop(in[rank - 1]);
  coords[rank - 1] = j;
  ValueId at = output_index(j);
  ValueId value = b.load(c.output, at);
  for (int64_t u = 0; u < unroll; ++u) {
    place(b.add(b.mul(rows, b.index_constant(unroll)), b.index_constant(u)), reduced_dims);
    value = combine(b, is_max, value, c.read(0, coords));
  }
  b.store(c.output, at, value);
  b.end_loop();
  b.end_loop();
  b.end_loop();
  return true;
}

// reduce_sum / reduce_max: for each output element, loops over the reduced
// axes into one accumulator.
void lower_reduce(kir::KernelContext& c, bool is_max) {
  if (lower_reduce_by_rows(c, is_max)) return;
  KernelBuilder& b = c.b;
  const Shape& in = c.inputs[0].shape;
  const auto& axes = c.node.attrs.get_ints("axes");
  bool keepdims = c.node.attrs.get_int("keepdims") != 0;
  DType dtype = c.node.type.dtype;
  std::vector<ValueId> out = b.begin_loop_nest(c.node.type.shape);
  int acc = b.accumulator(dtype);
  b.assign(acc, b.constant(dtype, is_max ? lowest(dtype) : 0.0));
  std::vector<ValueId> coords(in.size());
  size_t next_out = 0;
  int opened = 0;
  for (int64_t d = 0; d < static_cast<int64_t>(in.size()); ++d) {
    bool reduced = std::find(axes.begin(), axes.end(), d) != axes.end();
    if (reduced) {
      coords[d] = b.begin_loop(in[d]);
      ++opened;
      if (keepdims) ++next_out;
    } else {
      coords[d] = out[next_out++];
    }
  }
  ValueId x = c.read(0, coords);
  b.assign(acc, combine(b, is_max, b.read(acc), x));
  for (int i = 0; i < opened; ++i) b.end_loop();
  c.store(out, b.read(acc));
  b.end_loop_nest();
}

// The line's maximum into a new accumulator.
int line_max(kir::KernelContext& c, const std::vector<ValueId>& line, int64_t axis) {
  KernelBuilder& b = c.b;
  DType dtype = c.inputs[0].dtype;
  int m = b.accumulator(dtype);
  b.assign(m, b.constant(dtype, lowest(dtype)));
  ValueId a = b.begin_loop(c.inputs[0].shape[axis]);
  ValueId x = c.read(0, at(line, axis, a));
  b.assign(m, b.select(b.binary(BinaryOp::lt, b.read(m), x), x, b.read(m)));
  b.end_loop();
  return m;
}

// sum over the line of exp(x - m), into a new accumulator.
int line_exp_sum(kir::KernelContext& c, const std::vector<ValueId>& line, int64_t axis, ValueId m) {
  KernelBuilder& b = c.b;
  int s = b.accumulator(c.inputs[0].dtype);
  b.assign(s, b.like(m, 0.0));
  ValueId a = b.begin_loop(c.inputs[0].shape[axis]);
  ValueId x = c.read(0, at(line, axis, a));
  b.assign(s, b.add(b.read(s), b.unary(UnaryOp::exp, b.sub(x, m))));
  b.end_loop();
  return s;
}

// The two passes logsumexp and softmax share: each line's maximum m, then
// the sum s of exp(x - m). Opens the loop nest over lines (closed by the
// caller with end_loop_nest).
struct LineStatistics {
  std::vector<ValueId> line;
  ValueId max, exp_sum;
};
LineStatistics begin_line_statistics(kir::KernelContext& c, int64_t axis) {
  KernelBuilder& b = c.b;
  std::vector<ValueId> line = begin_lines(b, c.inputs[0].shape, axis);
  ValueId m = b.read(line_max(c, line, axis));
  return {line, m, b.read(line_exp_sum(c, line, axis, m))};
}

void lower_logsumexp(kir::KernelContext& c) {
  KernelBuilder& b = c.b;
  int64_t axis = c.node.attrs.get_int("axis");
  auto [line, m, s] = begin_line_statistics(c, axis);
  // An infinite maximum is the answer itself (exp(inf - inf) would be NaN).
  ValueId infinite = b.binary(BinaryOp::eq, b.unary(UnaryOp::abs, m), b.like(m, INFINITY));
  ValueId result = b.select(infinite, m, b.add(m, b.unary(UnaryOp::log, s)));
  std::vector<ValueId> out = line;
  if (c.node.attrs.get_int_or("keepdims", 0) != 0)
    out[axis] = b.index_constant(0);
  else
    out.erase(out.begin() + axis);
  c.store(out, result);
  b.end_loop_nest();
}

void lower_softmax(kir::KernelContext& c) {
  KernelBuilder& b = c.b;
  int64_t axis = c.node.attrs.get_int("axis");
  auto [line, m, s] = begin_line_statistics(c, axis);
  ValueId a = b.begin_loop(c.inputs[0].shape[axis]);
  std::vector<ValueId> coords = at(line, axis, a);
  c.store(coords, b.div(b.unary(UnaryOp::exp, b.sub(c.read(0, coords), m)), s));
  b.end_loop();
  b.end_loop_nest();
}

// argmax in `lanes` running maxima (ReductionSchedule::argmax_lanes), for
// a float line a multiple of `lanes` long: lane j over elements j,
// j + lanes, ..., each keeping the first of its maxima, then the lanes
// combined (greater value, else lower index). Along the innermost axis the
// loop over lines stays scalar and the lanes are vector lanes; along an
// outer axis (ReductionSchedule::argmax_outer_chains) they are independent
// chains and the lines run side by side in vector lanes. The first
// maximum wins, as in the reference: a NaN never wins a
// lane (lanes start at -inf), and a NaN at element 0 wins the line — the
// reference's chain keeps the first maximum and skips NaNs, except at
// element 0.
ValueId argmax_lanes(kir::KernelContext& c, const std::vector<ValueId>& line, int64_t axis, int64_t extent,
                     int64_t lane_count) {
  KernelBuilder& b = c.b;
  const DType dtype = c.inputs[0].dtype;
  struct Candidate {
    ValueId value, index;
  };
  std::vector<Candidate> lanes;
  for (int64_t j = 0; j < lane_count; ++j) lanes.push_back({b.constant(dtype, lowest(dtype)), b.index_constant(j)});
  for (int64_t a0 = 0; a0 < extent; a0 += lane_count) {
    for (int64_t j = 0; j < lane_count; ++j) {
      ValueId index = b.index_constant(a0 + j);
      ValueId x = c.read(0, at(line, axis, index));
      ValueId better = b.binary(BinaryOp::gt, x, lanes[j].value);
      lanes[j] = {b.select(better, x, lanes[j].value), b.select(better, index, lanes[j].index)};
    }
  }
  while (lanes.size() > 1) {
    const size_t half = lanes.size() / 2;
    for (size_t j = 0; j < half; ++j) {
      const Candidate &x = lanes[j], &y = lanes[j + half];
      ValueId y_wins = b.binary(BinaryOp::logical_or, b.binary(BinaryOp::gt, y.value, x.value),
                                b.binary(BinaryOp::logical_and, b.binary(BinaryOp::eq, y.value, x.value),
                                         b.binary(BinaryOp::lt, y.index, x.index)));
      lanes[j] = {b.select(y_wins, y.value, x.value), b.select(y_wins, y.index, x.index)};
    }
    lanes.resize(half);
  }
  ValueId first = c.read(0, at(line, axis, b.index_constant(0)));
  return b.select(b.binary(BinaryOp::ne, first, first), b.index_constant(0), lanes[0].index);
}

void lower_argmax(kir::KernelContext& c) {
  KernelBuilder& b = c.b;
  int64_t axis = c.node.attrs.get_int("axis");
  std::vector<ValueId> line = begin_lines(b, c.inputs[0].shape, axis);
  std::vector<ValueId> out = line;
  out.erase(out.begin() + axis);
  if (c.inputs[0].shape[axis] == 0) {
    c.store(out, b.constant(DType::i64, 0));
    b.end_loop_nest();
    return;
  }
  const int64_t extent = c.inputs[0].shape[axis];
  const kir::ReductionSchedule& schedule = c.schedule;
  const bool outer = axis + 1 < c.inputs[0].rank();
  if (outer && is_float(c.inputs[0].dtype) && schedule.argmax_outer_chains > 0 &&
      extent % schedule.argmax_outer_chains == 0 && extent <= schedule.argmax_outer_max) {
    c.store(out, argmax_lanes(c, line, axis, extent, schedule.argmax_outer_chains));
    b.end_loop_nest();
    return;
  }
  if (!outer && is_float(c.inputs[0].dtype) && schedule.argmax_lanes > 0 && extent > schedule.argmax_unrolled_max &&
      extent % schedule.argmax_lanes == 0 && extent <= schedule.argmax_lanes_max) {
    b.keep_open_loops_scalar();
    c.store(out, argmax_lanes(c, line, axis, extent, schedule.argmax_lanes));
    b.end_loop_nest();
    return;
  }
  int best = b.accumulator(c.inputs[0].dtype), index = b.accumulator(DType::i64);
  b.assign(best, c.read(0, at(line, axis, b.index_constant(0))));
  b.assign(index, b.index_constant(0));
  auto step = [&](ValueId a) {
    ValueId x = c.read(0, at(line, axis, a));
    ValueId better = b.binary(BinaryOp::gt, x, b.read(best));
    b.assign(index, b.select(better, a, b.read(index)));
    b.assign(best, b.select(better, x, b.read(best)));
  };
  // First maximum wins, as in the reference. A line the target wants
  // unrolled gets constant coordinates for each element.
  if (extent <= schedule.argmax_unrolled_max) {
    for (int64_t a = 1; a < extent; ++a) step(b.index_constant(a));
  } else {
    step(b.begin_loop(extent));
    b.end_loop();
  }
  c.store(out, b.read(index));
  b.end_loop_nest();
}

}  // namespace

REFORGE_REGISTER_OPS(reductions) {
  std::vector<AttrSpec> axes_attrs = {{"axes", AttrKind::int_list}, {"keepdims", AttrKind::integer}};
  register_op(
      {.name = "reduce_sum",
       .arity = 1,
       .attrs = axes_attrs,
       .infer = infer_reduce,
       .eval = [](const EvalContext& c) { return eval_reduce(c, false); },
       .vjp =
           [](const VjpContext& c) { return std::vector<Tensor>{expand_back(c.grad, c.node(), c.inputs[0].shape())}; },
       .kind = OpKind::reduction,
       .kernel = [](kir::KernelContext& c) { lower_reduce(c, false); },
       .reduces_partials = true});
  // The gradient is shared equally among tied maxima.
  register_op({.name = "reduce_max",
               .arity = 1,
               .attrs = axes_attrs,
               .infer = infer_reduce,
               .eval = [](const EvalContext& c) { return eval_reduce(c, true); },
               .vjp =
                   [](const VjpContext& c) {
                     Tensor x = c.inputs[0];
                     const Node& n = c.node();
                     Tensor is_max = cast(equal(x, expand_back(c.output, n, x.shape())), x.dtype());
                     AttrMap attrs = n.attrs;
                     Tensor count = c.graph.add("reduce_sum", {is_max}, attrs, n.loc);
                     return std::vector<Tensor>{is_max * expand_back(c.grad / count, n, x.shape())};
                   },
               .kind = OpKind::reduction,
               .kernel = [](kir::KernelContext& c) { lower_reduce(c, true); },
               .reduces_partials = true});

  register_op({.name = "argmax",
               .arity = 1,
               .attrs = {{"axis", AttrKind::integer}},
               .infer =
                   [](const InferContext& c) {
                     TensorType t = c.inputs[0];
                     require_axis(c.attrs.get_int("axis"), t.rank());
                     t.shape.erase(t.shape.begin() + c.attrs.get_int("axis"));
                     t.dtype = DType::i64;
                     return t;
                   },
               .eval =
                   [](const EvalContext& c) {
                     const HostTensor& x = *c.inputs[0];
                     HostTensor out(c.node.type);
                     for_each_line(x.shape(), c.node.attrs.get_int("axis"),
                                   [&](int64_t base, int64_t stride, int64_t extent, int64_t line) {
                                     int64_t best = 0;  // first maximum wins
                                     for (int64_t a = 1; a < extent; ++a) {
                                       if (x[base + a * stride] > x[base + best * stride]) best = a;
                                     }
                                     out[line] = static_cast<double>(best);
                                   });
                     return out;
                   },
               .kind = OpKind::reduction,
               .kernel = lower_argmax});

  register_op({.name = "logsumexp",
               .arity = 1,
               .attrs = {{"axis", AttrKind::integer}, {"keepdims", AttrKind::integer}},
               .infer = [](const InferContext& c) { return infer_along_axis(c, false); },
               .eval =
                   [](const EvalContext& c) {
                     const HostTensor& x = *c.inputs[0];
                     HostTensor out(c.node.type);
                     for_each_line(x.shape(), c.node.attrs.get_int("axis"),
                                   [&](int64_t base, int64_t stride, int64_t extent, int64_t line) {
                                     double m = -std::numeric_limits<double>::infinity();
                                     for (int64_t a = 0; a < extent; ++a) m = std::max(m, x[base + a * stride]);
                                     if (std::isinf(m)) {
                                       out[line] = m;
                                       return;
                                     }
                                     double s = 0.0;
                                     for (int64_t a = 0; a < extent; ++a) s += std::exp(x[base + a * stride] - m);
                                     out[line] = m + std::log(s);
                                   });
                     return out;
                   },
               .vjp =
                   [](const VjpContext& c) {
                     Tensor x = c.inputs[0];
                     const Node& n = c.node();
                     Tensor p = exp(x - expand_back(c.output, n, x.shape()));
                     return std::vector<Tensor>{p * expand_back(c.grad, n, x.shape())};
                   },
               .kind = OpKind::reduction,
               .kernel = lower_logsumexp});

  register_op({.name = "softmax",
               .arity = 1,
               .attrs = {{"axis", AttrKind::integer}},
               .infer = [](const InferContext& c) { return infer_along_axis(c, true); },
               .eval =
                   [](const EvalContext& c) {
                     const HostTensor& x = *c.inputs[0];
                     HostTensor out(c.node.type);
                     for_each_line(x.shape(), c.node.attrs.get_int("axis"),
                                   [&](int64_t base, int64_t stride, int64_t extent, int64_t) {
                                     double m = -std::numeric_limits<double>::infinity();
                                     for (int64_t a = 0; a < extent; ++a) m = std::max(m, x[base + a * stride]);
                                     double s = 0.0;
                                     for (int64_t a = 0; a < extent; ++a) s += std::exp(x[base + a * stride] - m);
                                     for (int64_t a = 0; a < extent; ++a) {
                                       out[base + a * stride] = std::exp(x[base + a * stride] - m) / s;
                                     }
                                   });
                     return out;
                   },
               .vjp =
                   [](const VjpContext& c) {
                     // dx = y * (g - sum(g * y, axis))
                     int64_t axis = c.node().attrs.get_int("axis");
                     Tensor y = c.output;
                     return std::vector<Tensor>{y * (c.grad - sum(c.grad * y, {axis}, true))};
                   },
               .kind = OpKind::reduction,
               .kernel = lower_softmax});
}

}  // namespace reforge::ops
