// Indexing ops: gather (take_along_axis) and its adjoint scatter_add, take
// (a 1-D index along one axis) and its adjoint index_add, and a stable
// argsort. Indices are integers; out-of-range indices are an error,
// never a silent clamp.
#include <numeric>

#include "ops/op_helpers.h"

namespace reforge::ops {
namespace {

// idx must have x's rank and x's shape except along `axis`.
void check_index_shape(const TensorType& x, const TensorType& idx, int64_t axis, const char* what) {
  require_axis(axis, x.rank());
  if (!is_integer(idx.dtype)) shape_error(fmt::format("{} must be integer, got {}", what, type_to_string(idx)));
  bool ok = idx.rank() == x.rank();
  for (int64_t d = 0; ok && d < x.rank(); ++d) ok = d == axis || idx.shape[d] == x.shape[d];
  if (!ok) {
    shape_error(
        fmt::format("{} {} must match {} except along axis {}", what, type_to_string(idx), type_to_string(x), axis));
  }
}

int64_t checked_index(double v, int64_t extent) {
  auto i = static_cast<int64_t>(v);
  if (i < 0 || i >= extent) throw Error(fmt::format("index {} out of range [0, {})", i, extent));
  return i;
}

// Visits (position in idx, position in x) pairs: x's coordinate along
// `axis` comes from idx, the others are shared.
template <typename Fn>
void for_each_indexed(const Shape& x_shape, const HostTensor& idx, int64_t axis, Fn fn) {
  AxisSplit xs = split_at(x_shape, axis);
  AxisSplit is = split_at(idx.shape(), axis);
  for (int64_t o = 0; o < is.outer; ++o)
    for (int64_t a = 0; a < is.extent; ++a)
      for (int64_t i = 0; i < is.inner; ++i) {
        int64_t at = (o * is.extent + a) * is.inner + i;
        int64_t target = checked_index(idx[at], xs.extent);
        fn(at, (o * xs.extent + target) * xs.inner + i);
      }
}

// take / index_add: x's coordinate along `axis` comes from a 1-D index.
TensorType infer_rows(const TensorType& x, const TensorType& idx, int64_t axis) {
  require_axis(axis, x.rank());
  if (!is_integer(idx.dtype) || idx.rank() != 1)
    shape_error("index must be a 1-D integer tensor, got " + type_to_string(idx));
  TensorType out = x;
  out.shape[axis] = idx.shape[0];
  return out;
}

// Visits (position in the indexed result, position in x) pairs.
template <typename Fn>
void for_each_row(const Shape& x_shape, const HostTensor& idx, int64_t axis, Fn fn) {
  AxisSplit xs = split_at(x_shape, axis);
  const int64_t rows = idx.size();
  for (int64_t o = 0; o < xs.outer; ++o)
    for (int64_t a = 0; a < rows; ++a) {
      int64_t target = checked_index(idx[a], xs.extent);
      for (int64_t i = 0; i < xs.inner; ++i) fn((o * rows + a) * xs.inner + i, (o * xs.extent + target) * xs.inner + i);
    }
}

// Library calls of the indexing ops: the (outer, extent, inner) split of
// the indexed tensor around `axis`, and the index's extent along it.
template <typename Call>
void indexed_call(const kir::LibraryContext& c, kir::LibraryCall& call) {
  const Node& n = c.node;
  const std::vector<TensorType>& in = c.inputs;
  int64_t axis = n.attrs.get_int("axis");
  AxisSplit x = split_at(in[0].shape, axis);
  Call indexed;
  indexed.value_type = in[0].dtype;
  indexed.index_type = in[1].dtype;
  indexed.outer = x.outer;
  indexed.extent = x.extent;
  indexed.inner = x.inner;
  indexed.index_extent = in[1].rank() == 1 ? in[1].shape[0] : in[1].shape[axis];
  call = kir::LibraryCall::of(indexed);
}

}  // namespace

REFORGE_REGISTER_OPS(indexing) {
  // numpy.take with a 1-D index (embedding lookups): out[.., a, ..] = x[.., idx[a], ..].
  register_op(
      {.name = "take",
       .arity = 2,
       .attrs = {{"axis", AttrKind::integer}},
       .infer = [](const InferContext& c) { return infer_rows(c.inputs[0], c.inputs[1], c.attrs.get_int("axis")); },
       .eval =
           [](const EvalContext& c) {
             HostTensor out(c.node.type);
             const HostTensor& x = *c.inputs[0];
             for_each_row(x.shape(), *c.inputs[1], c.node.attrs.get_int("axis"),
                          [&](int64_t at, int64_t src) { out[at] = x[src]; });
             return out;
           },
       .vjp =
           [](const VjpContext& c) {
             int64_t axis = c.node().attrs.get_int("axis");
             return std::vector<Tensor>{index_add(zeros_like(c.inputs[0]), c.inputs[1], c.grad, axis), Tensor{}};
           },
       .kind = OpKind::library,
       .library = indexed_call<runtime::TakeCall>});
  // The adjoint of take: base with updates[.., a, ..] added at base[.., idx[a], ..].
  register_op({.name = "index_add",
               .arity = 3,
               .attrs = {{"axis", AttrKind::integer}},
               .infer =
                   [](const InferContext& c) {
                     TensorType rows = infer_rows(c.inputs[0], c.inputs[1], c.attrs.get_int("axis"));
                     if (c.inputs[2] != rows) {
                       shape_error("updates must be " + type_to_string(rows) + ", got " + type_to_string(c.inputs[2]));
                     }
                     return c.inputs[0];
                   },
               .eval =
                   [](const EvalContext& c) {
                     HostTensor out = *c.inputs[0];
                     const HostTensor& updates = *c.inputs[2];
                     for_each_row(out.shape(), *c.inputs[1], c.node.attrs.get_int("axis"),
                                  [&](int64_t at, int64_t dst) { out[dst] += updates[at]; });
                     return out;
                   },
               .vjp =
                   [](const VjpContext& c) {
                     int64_t axis = c.node().attrs.get_int("axis");
                     return std::vector<Tensor>{c.grad, Tensor{}, take(c.grad, c.inputs[1], axis)};
                   },
               .kind = OpKind::library,
               .library = indexed_call<runtime::IndexAddCall>});

  register_op({.name = "gather",
               .arity = 2,
               .attrs = {{"axis", AttrKind::integer}},
               .infer =
                   [](const InferContext& c) {
                     check_index_shape(c.inputs[0], c.inputs[1], c.attrs.get_int("axis"), "index");
                     return TensorType{c.inputs[0].dtype, c.inputs[1].shape};
                   },
               .eval =
                   [](const EvalContext& c) {
                     HostTensor out(c.node.type);
                     const HostTensor& x = *c.inputs[0];
                     for_each_indexed(x.shape(), *c.inputs[1], c.node.attrs.get_int("axis"),
                                      [&](int64_t at, int64_t src) { out[at] = x[src]; });
                     return out;
                   },
               .vjp =
                   [](const VjpContext& c) {
                     int64_t axis = c.node().attrs.get_int("axis");
                     Tensor x = c.inputs[0];
                     return std::vector<Tensor>{scatter_add(zeros_like(x), c.inputs[1], c.grad, axis), Tensor{}};
                   },
               .kind = OpKind::library,
               .library = indexed_call<runtime::GatherCall>});

  register_op({.name = "scatter_add",
               .arity = 3,
               .attrs = {{"axis", AttrKind::integer}},
               .infer =
                   [](const InferContext& c) {
                     check_index_shape(c.inputs[0], c.inputs[1], c.attrs.get_int("axis"), "index");
                     if (c.inputs[2].shape != c.inputs[1].shape || c.inputs[2].dtype != c.inputs[0].dtype) {
                       shape_error("updates must have the index's shape and the base's dtype: " +
                                   types_string(c.inputs));
                     }
                     return c.inputs[0];
                   },
               .eval =
                   [](const EvalContext& c) {
                     HostTensor out = *c.inputs[0];
                     const HostTensor& updates = *c.inputs[2];
                     for_each_indexed(out.shape(), *c.inputs[1], c.node.attrs.get_int("axis"),
                                      [&](int64_t at, int64_t dst) { out[dst] += updates[at]; });
                     return out;
                   },
               .vjp =
                   [](const VjpContext& c) {
                     int64_t axis = c.node().attrs.get_int("axis");
                     return std::vector<Tensor>{c.grad, Tensor{}, gather(c.grad, c.inputs[1], axis)};
                   },
               .kind = OpKind::library,
               .library = indexed_call<runtime::ScatterAddCall>});

  // Stable ascending sort order along `axis`; equal keys keep their order.
  register_op({.name = "argsort",
               .arity = 1,
               .attrs = {{"axis", AttrKind::integer}},
               .infer =
                   [](const InferContext& c) {
                     require_axis(c.attrs.get_int("axis"), c.inputs[0].rank());
                     return TensorType{DType::i64, c.inputs[0].shape};
                   },
               .eval =
                   [](const EvalContext& c) {
                     const HostTensor& x = *c.inputs[0];
                     HostTensor out(c.node.type);
                     AxisSplit s = split_at(x.shape(), c.node.attrs.get_int("axis"));
                     std::vector<int64_t> order(s.extent);
                     for (int64_t o = 0; o < s.outer; ++o)
                       for (int64_t i = 0; i < s.inner; ++i) {
                         auto at = [&](int64_t a) { return (o * s.extent + a) * s.inner + i; };
                         std::iota(order.begin(), order.end(), 0);
                         std::stable_sort(order.begin(), order.end(),
                                          [&](int64_t p, int64_t q) { return x[at(p)] < x[at(q)]; });
                         for (int64_t a = 0; a < s.extent; ++a) out[at(a)] = static_cast<double>(order[a]);
                       }
                     return out;
                   },
               .kind = OpKind::library,
               .library =
                   [](const kir::LibraryContext& c, kir::LibraryCall& call) {
                     AxisSplit x = split_at(c.inputs[0].shape, c.node.attrs.get_int("axis"));
                     call = kir::LibraryCall::of(runtime::ArgsortCall{
                         .key_type = c.inputs[0].dtype, .outer = x.outer, .extent = x.extent, .inner = x.inner});
                   }});
}

}  // namespace reforge::ops
