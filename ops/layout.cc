// Layout ops: reshape, transpose, broadcast, slice, concat, pad. They move
// elements without arithmetic; their gradients are layout ops too.
#include <numeric>

#include "ops/op_helpers.h"

namespace reforge::ops {
namespace {

TensorType infer_broadcast(const InferContext& c) {
  const TensorType& in = c.inputs[0];
  const Shape& out = c.attrs.get_ints("shape");
  if (in.shape.size() > out.size())
    shape_error("cannot broadcast " + type_to_string(in) + " to " + shape_to_string(out));
  size_t lead = out.size() - in.shape.size();
  for (size_t i = 0; i < in.shape.size(); ++i) {
    if (in.shape[i] != 1 && in.shape[i] != out[lead + i]) {
      shape_error("cannot broadcast " + type_to_string(in) + " to " + shape_to_string(out));
    }
  }
  return TensorType{in.dtype, out};
}

// Sum of g over the axes a broadcast from `in` to g's shape expanded.
Tensor unbroadcast(Tensor g, const Shape& in) {
  size_t lead = g.rank() - in.size();
  std::vector<int64_t> axes;
  for (size_t i = 0; i < static_cast<size_t>(g.rank()); ++i) {
    if (i < lead || (in[i - lead] == 1 && g.shape()[i] != 1)) axes.push_back(static_cast<int64_t>(i));
  }
  Tensor s = axes.empty() ? g : sum(g, axes, false);
  return reshape(s, in);
}

TensorType infer_slice(const InferContext& c) {
  TensorType t = c.inputs[0];
  int64_t axis = c.attrs.get_int("axis"), start = c.attrs.get_int("start"), end = c.attrs.get_int("end");
  require_axis(axis, t.rank());
  if (start < 0 || start > end || end > t.shape[axis]) {
    shape_error(fmt::format("slice [{}, {}) out of range for axis {} of {}", start, end, axis, type_to_string(t)));
  }
  t.shape[axis] = end - start;
  return t;
}

TensorType infer_concat(const InferContext& c) {
  if (c.inputs.empty()) shape_error("needs at least one input");
  int64_t axis = c.attrs.get_int("axis");
  TensorType t = c.inputs[0];
  require_axis(axis, t.rank());
  t.shape[axis] = 0;
  for (const TensorType& in : c.inputs) {
    TensorType probe = in;
    if (probe.rank() == t.rank()) probe.shape[axis] = 0;
    if (probe != t) shape_error(fmt::format("inputs differ off axis {}: {}", axis, types_string(c.inputs)));
  }
  for (const TensorType& in : c.inputs) t.shape[axis] += in.shape[axis];
  return t;
}

// ---- index maps: which input element an output element reads ----

ValueId read_reshaped(const kir::ElementContext& c) {
  ValueId flat = c.b.flat_index(c.coords, c.node.type.shape);
  return c.read(0, unravel(c.b, flat, c.inputs[0].shape));
}

ValueId read_transposed(const kir::ElementContext& c) {
  const auto& perm = c.node.attrs.get_ints("perm");
  std::vector<ValueId> in(perm.size());
  for (size_t i = 0; i < perm.size(); ++i) in[perm[i]] = c.coords[i];
  return c.read(0, in);
}

ValueId read_broadcast(const kir::ElementContext& c) {
  const Shape& in_shape = c.inputs[0].shape;
  size_t lead = c.coords.size() - in_shape.size();
  std::vector<ValueId> in(in_shape.size());
  for (size_t i = 0; i < in_shape.size(); ++i) {
    in[i] = in_shape[i] == 1 ? c.b.index_constant(0) : c.coords[lead + i];
  }
  return c.read(0, in);
}

ValueId read_sliced(const kir::ElementContext& c) {
  std::vector<ValueId> in = c.coords;
  int64_t axis = c.node.attrs.get_int("axis");
  in[axis] = c.b.add(in[axis], c.b.index_constant(c.node.attrs.get_int("start")));
  return c.read(0, in);
}

ValueId read_padded(const kir::ElementContext& c) {
  KernelBuilder& b = c.b;
  int64_t axis = c.node.attrs.get_int("axis"), extent = c.inputs[0].shape[axis];
  std::vector<ValueId> in = c.coords;
  ValueId at = b.sub(in[axis], b.index_constant(c.node.attrs.get_int("low")));
  ValueId inside = b.binary(kir::BinaryOp::logical_and, b.binary(kir::BinaryOp::ge, at, b.index_constant(0)),
                            b.binary(kir::BinaryOp::lt, at, b.index_constant(extent)));
  in[axis] = b.clamp_index(at, extent);
  ValueId value = c.read(0, in);
  return b.select(inside, value, b.constant(c.node.type.dtype, c.node.attrs.get_float("value")));
}

// The last input whose range holds the coordinate; earlier inputs override.
ValueId read_concatenated(const kir::ElementContext& c) {
  KernelBuilder& b = c.b;
  int64_t axis = c.node.attrs.get_int("axis"), end = c.node.type.shape[axis];
  ValueId result = -1;
  for (int64_t i = static_cast<int64_t>(c.inputs.size()) - 1; i >= 0; --i) {
    int64_t extent = c.inputs[i].shape[axis], start = end - extent;
    std::vector<ValueId> in = c.coords;
    in[axis] = b.clamp_index(b.sub(in[axis], b.index_constant(start)), extent);
    ValueId value = c.read(static_cast<int>(i), in);
    result = result < 0 ? value
                        : b.select(b.binary(kir::BinaryOp::lt, c.coords[axis], b.index_constant(end)), value, result);
    end = start;
  }
  return result;
}

// Identity when the result has the input's type (reshape, broadcast,
// slice, pad, concat of one input).
bool same_type(const Node& n, const TensorType& input) { return n.inputs.size() == 1 && n.type == input; }

bool identity_permutation(const Node& n, const TensorType&) {
  const auto& perm = n.attrs.get_ints("perm");
  for (size_t i = 0; i < perm.size(); ++i) {
    if (perm[i] != static_cast<int64_t>(i)) return false;
  }
  return true;
}

// reshape(reshape(x)): x when that is back to x's shape, else one reshape
// of x.
int fold_reshape(Graph& g, const Node& n, const std::vector<int>& in) {
  const Node& producer = g.node(in[0]);
  if (producer.def != n.def) return -1;
  const int x = producer.inputs[0];
  if (g.node(x).type == n.type) return x;
  return g.append(n.copy({x}));
}

// slice(concat(..., part, ...)) along the concat's axis, inside one part:
// that part, or the same slice of it. Reversible blocks stack their two
// streams (a concat) and the next block, or the backward, takes them
// apart again (slices); folded, neither copy is made.
int fold_slice_of_concat(Graph& g, const Node& n, const std::vector<int>& in) {
  const Node& concat = g.node(in[0]);
  if (concat.op != "concat") return -1;
  const int64_t axis = n.attrs.get_int("axis"), start = n.attrs.get_int("start"), end = n.attrs.get_int("end");
  if (concat.attrs.get_int("axis") != axis) return -1;
  int64_t offset = 0;
  for (int part : concat.inputs) {
    const int64_t length = g.node(part).type.shape.at(axis);
    if (start >= offset && end <= offset + length) {
      if (start == offset && end == offset + length) return part;
      std::unique_ptr<Node> inside = n.copy({part});
      inside->attrs.set("start", start - offset);
      inside->attrs.set("end", end - offset);
      return g.append(std::move(inside));
    }
    offset += length;
  }
  return -1;  // spans parts
}

}  // namespace

REFORGE_REGISTER_OPS(layout) {
  register_op({.name = "reshape",
               .arity = 1,
               .attrs = {{"shape", AttrKind::int_list}},
               .infer =
                   [](const InferContext& c) {
                     TensorType t{c.inputs[0].dtype, c.attrs.get_ints("shape")};
                     for (int64_t d : t.shape) {
                       if (d < 0) shape_error("negative dimension in " + shape_to_string(t.shape));
                     }
                     if (t.elements() != c.inputs[0].elements()) {
                       shape_error("cannot reshape " + type_to_string(c.inputs[0]) + " to " + shape_to_string(t.shape));
                     }
                     return t;
                   },
               .eval = [](const EvalContext& c) { return HostTensor(c.node.type, c.inputs[0]->data); },
               .vjp = [](const VjpContext& c) { return std::vector<Tensor>{reshape(c.grad, c.inputs[0].shape())}; },
               .kind = OpKind::view,
               .reinterprets_input = true,
               .element = read_reshaped,
               .is_identity = same_type,
               .fold = fold_reshape});

  register_op({.name = "transpose",
               .arity = 1,
               .attrs = {{"perm", AttrKind::int_list}},
               .infer =
                   [](const InferContext& c) {
                     const auto& perm = c.attrs.get_ints("perm");
                     const TensorType& in = c.inputs[0];
                     std::vector<int64_t> sorted = perm;
                     std::sort(sorted.begin(), sorted.end());
                     std::vector<int64_t> expected(in.rank());
                     std::iota(expected.begin(), expected.end(), 0);
                     if (sorted != expected) {
                       shape_error(fmt::format("perm [{}] is not a permutation of the axes of {}", fmt::join(perm, ","),
                                               type_to_string(in)));
                     }
                     TensorType out = in;
                     for (size_t i = 0; i < perm.size(); ++i) out.shape[i] = in.shape[perm[i]];
                     return out;
                   },
               .eval =
                   [](const EvalContext& c) {
                     const HostTensor& x = *c.inputs[0];
                     const auto& perm = c.node.attrs.get_ints("perm");
                     HostTensor out(c.node.type);
                     auto in_strides = row_major_strides(x.shape());
                     std::vector<int64_t> strides(perm.size());  // per output axis, into x
                     for (size_t i = 0; i < perm.size(); ++i) strides[i] = in_strides[perm[i]];
                     for_each_strided(out.shape(), strides, [&](int64_t flat, int64_t src) { out[flat] = x[src]; });
                     return out;
                   },
               .vjp =
                   [](const VjpContext& c) {
                     const auto& perm = c.node().attrs.get_ints("perm");
                     std::vector<int64_t> inverse(perm.size());
                     for (size_t i = 0; i < perm.size(); ++i) inverse[perm[i]] = static_cast<int64_t>(i);
                     return std::vector<Tensor>{transpose(c.grad, inverse)};
                   },
               .kind = OpKind::view,
               .element = read_transposed,
               .is_identity = identity_permutation});

  register_op({.name = "broadcast",
               .arity = 1,
               .attrs = {{"shape", AttrKind::int_list}},
               .infer = infer_broadcast,
               .eval =
                   [](const EvalContext& c) {
                     const HostTensor& x = *c.inputs[0];
                     HostTensor out(c.node.type);
                     size_t lead = out.shape().size() - x.shape().size();
                     auto in_strides = row_major_strides(x.shape());
                     std::vector<int64_t> strides(out.shape().size(), 0);  // broadcast axes stay put
                     for (size_t i = 0; i < x.shape().size(); ++i) {
                       if (x.shape()[i] != 1) strides[lead + i] = in_strides[i];
                     }
                     for_each_strided(out.shape(), strides, [&](int64_t flat, int64_t src) { out[flat] = x[src]; });
                     return out;
                   },
               .vjp = [](const VjpContext& c) { return std::vector<Tensor>{unbroadcast(c.grad, c.inputs[0].shape())}; },
               .kind = OpKind::view,
               .element = read_broadcast,
               .is_identity = same_type,
               .repeats_input = true});

  register_op({.name = "slice",
               .arity = 1,
               .attrs = {{"axis", AttrKind::integer}, {"start", AttrKind::integer}, {"end", AttrKind::integer}},
               .infer = infer_slice,
               .eval =
                   [](const EvalContext& c) {
                     HostTensor out(c.node.type);
                     const auto& a = c.node.attrs;
                     copy_along(*c.inputs[0], a.get_int("start"), out, 0, a.get_int("axis"),
                                a.get_int("end") - a.get_int("start"));
                     return out;
                   },
               .vjp =
                   [](const VjpContext& c) {
                     const auto& a = c.node().attrs;
                     int64_t axis = a.get_int("axis");
                     int64_t high = c.inputs[0].dim(axis) - a.get_int("end");
                     return std::vector<Tensor>{pad(c.grad, axis, a.get_int("start"), high, 0.0)};
                   },
               .kind = OpKind::view,
               .element = read_sliced,
               .is_identity = same_type,
               .fold = fold_slice_of_concat});

  register_op({.name = "concat",
               .arity = -1,
               .attrs = {{"axis", AttrKind::integer}},
               .infer = infer_concat,
               .eval =
                   [](const EvalContext& c) {
                     HostTensor out(c.node.type);
                     int64_t axis = c.node.attrs.get_int("axis"), offset = 0;
                     for (const HostTensor* in : c.inputs) {
                       copy_along(*in, 0, out, offset, axis, in->shape()[axis]);
                       offset += in->shape()[axis];
                     }
                     return out;
                   },
               .vjp =
                   [](const VjpContext& c) {
                     int64_t axis = c.node().attrs.get_int("axis"), offset = 0;
                     std::vector<Tensor> grads;
                     for (const Tensor& in : c.inputs) {
                       grads.push_back(slice(c.grad, axis, offset, offset + in.dim(axis)));
                       offset += in.dim(axis);
                     }
                     return grads;
                   },
               .kind = OpKind::view,
               .element = read_concatenated,
               .is_identity = same_type,
               .reads_every_input = true});

  register_op({.name = "pad",
               .arity = 1,
               .attrs = {{"axis", AttrKind::integer},
                         {"low", AttrKind::integer},
                         {"high", AttrKind::integer},
                         {"value", AttrKind::real}},
               .infer =
                   [](const InferContext& c) {
                     TensorType t = c.inputs[0];
                     int64_t axis = c.attrs.get_int("axis");
                     require_axis(axis, t.rank());
                     if (c.attrs.get_int("low") < 0 || c.attrs.get_int("high") < 0) shape_error("padding must be >= 0");
                     t.shape[axis] += c.attrs.get_int("low") + c.attrs.get_int("high");
                     return t;
                   },
               .eval =
                   [](const EvalContext& c) {
                     HostTensor out(c.node.type);
                     const auto& a = c.node.attrs;
                     std::fill(out.data.begin(), out.data.end(), a.get_float("value"));
                     int64_t axis = a.get_int("axis");
                     copy_along(*c.inputs[0], 0, out, a.get_int("low"), axis, c.inputs[0]->shape()[axis]);
                     return out;
                   },
               .vjp =
                   [](const VjpContext& c) {
                     const auto& a = c.node().attrs;
                     int64_t axis = a.get_int("axis"), low = a.get_int("low");
                     return std::vector<Tensor>{slice(c.grad, axis, low, low + c.inputs[0].dim(axis))};
                   },
               .kind = OpKind::view,
               .element = read_padded,
               .is_identity = same_type});
}

}  // namespace reforge::ops
