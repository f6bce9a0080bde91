// Small helpers shared by the op definitions: registration, index
// arithmetic for the reference kernels, and checks for shape rules.
#pragma once

#include <fmt/format.h>

#include <string>
#include <vector>

#include "compiler/dsl/dsl.h"
#include "compiler/ir/graph.h"
#include "compiler/ir/op_def.h"
#include "compiler/kernel/lowering_hooks.h"

namespace reforge::ops {

// Registers op definitions at static-initialisation time:
//   REFORGE_REGISTER_OPS(elementwise) { register_op(...); ... }
#define REFORGE_REGISTER_OPS(group)           \
  static void register_##group##_ops();       \
  static const bool group##_registered = [] { \
    register_##group##_ops();                 \
    return true;                              \
  }();                                        \
  static void register_##group##_ops()

[[noreturn]] inline void shape_error(const std::string& what) { throw Error(what); }

inline std::string types_string(const std::vector<TensorType>& types) {
  std::vector<std::string> parts;
  for (const auto& t : types) parts.push_back(type_to_string(t));
  return fmt::format("{}", fmt::join(parts, ", "));
}

inline void require_float(const TensorType& t, const char* what) {
  if (!is_float(t.dtype)) shape_error(fmt::format("{} must be a float tensor, got {}", what, type_to_string(t)));
}

inline DType dtype_attr(const AttrMap& attrs) {
  auto d = parse_dtype(attrs.get_string("dtype"));
  if (!d) shape_error("unknown dtype '" + attrs.get_string("dtype") + "'");
  return *d;
}

// The types of an evaluated node's inputs (for the helpers its infer
// rule shares with its eval).
inline std::vector<TensorType> input_types(const EvalContext& c) {
  std::vector<TensorType> types;
  for (const HostTensor* t : c.inputs) types.push_back(t->type);
  return types;
}

inline void require_axis(int64_t axis, int64_t rank) {
  if (axis < 0 || axis >= rank) shape_error(fmt::format("axis {} out of range for rank {}", axis, rank));
}

// Splits a shape around `axis` into (outer, extent, inner) for loops of the
// form  for o, for a, for i: flat = (o * extent + a) * inner + i.
struct AxisSplit {
  int64_t outer = 1, extent = 1, inner = 1;
};
inline AxisSplit split_at(const Shape& shape, int64_t axis) {
  AxisSplit s;
  for (int64_t i = 0; i < axis; ++i) s.outer *= shape[i];
  s.extent = shape[axis];
  for (size_t i = axis + 1; i < shape.size(); ++i) s.inner *= shape[i];
  return s;
}

// Copies `src` into `dst` along `axis`:
//   dst[.., dst_offset + a, ..] = src[.., src_offset + a, ..] for a < count.
inline void copy_along(const HostTensor& src, int64_t src_offset, HostTensor& dst, int64_t dst_offset, int64_t axis,
                       int64_t count) {
  AxisSplit s = split_at(src.shape(), axis);
  AxisSplit d = split_at(dst.shape(), axis);
  for (int64_t o = 0; o < s.outer; ++o)
    for (int64_t a = 0; a < count; ++a)
      for (int64_t i = 0; i < s.inner; ++i) {
        dst[(o * d.extent + dst_offset + a) * d.inner + i] = src[(o * s.extent + src_offset + a) * s.inner + i];
      }
}

// Visits every element of `shape` in row-major order as fn(flat, offset),
// offset = sum over d of coordinate[d] * strides[d], kept up to date as an
// odometer (no per-element allocation: the reference kernels' hot loop).
template <typename Fn>
void for_each_strided(const Shape& shape, const std::vector<int64_t>& strides, Fn fn) {
  const int64_t rank = static_cast<int64_t>(shape.size()), count = num_elements(shape);
  std::vector<int64_t> coords(rank, 0);
  int64_t offset = 0;
  for (int64_t flat = 0; flat < count; ++flat) {
    fn(flat, offset);
    for (int64_t d = rank - 1; d >= 0; --d) {
      offset += strides[d];
      if (++coords[d] < shape[d]) break;
      offset -= strides[d] * shape[d];
      coords[d] = 0;
    }
  }
}

// Node locations for gradient nodes are rewritten by autodiff to the
// forward node's location; vjp rules build with the plain DSL.
inline Tensor zeros_like(Tensor x) { return full_like(x, 0.0); }

// ---- lowering helpers ----

using kir::KernelBuilder;
using kir::ValueId;

// The lowering of an elementwise op from a formula over the input values
// at the output element's own coordinates.
using ScalarFormula = std::function<ValueId(KernelBuilder&, const Node&, const std::vector<ValueId>&)>;
inline std::function<int(const kir::ElementContext&)> pointwise(ScalarFormula formula) {
  return [formula](const kir::ElementContext& c) {
    std::vector<ValueId> inputs;
    for (size_t i = 0; i < c.node.inputs.size(); ++i) inputs.push_back(c.read(static_cast<int>(i), c.coords));
    return formula(c.b, c.node, inputs);
  };
}

// Coordinates of flat index `flat` in `shape`, as kernel IR.
inline std::vector<ValueId> unravel(KernelBuilder& b, ValueId flat, const Shape& shape) {
  std::vector<ValueId> coords(shape.size());
  for (int64_t d = static_cast<int64_t>(shape.size()) - 1; d >= 0; --d) {
    coords[d] = b.binary(kir::BinaryOp::mod, flat, b.index_constant(shape[d]));
    flat = b.binary(kir::BinaryOp::div, flat, b.index_constant(shape[d]));
  }
  return coords;
}

// The loop nest over every line along `axis`: coordinates of the input
// with the axis left to fill (coords[axis] is -1). Lines along the last
// axis run as a nest over [lines..., 1], so that its parallel loop covers
// every line: over the lines' own shape it covered all but their last
// axis, the batch, often 1 (P1 at 4K: the head's logsumexp 1.46 -> 0.69
// ms a step, its argmax 0.62 -> 0.29).
inline std::vector<ValueId> begin_lines(KernelBuilder& b, const Shape& in, int64_t axis) {
  Shape lines = in;
  const bool last = axis + 1 == static_cast<int64_t>(in.size());
  if (last) {
    lines.back() = 1;
  } else {
    lines.erase(lines.begin() + axis);
  }
  std::vector<ValueId> coords = b.begin_loop_nest(lines);
  if (last) {
    coords.back() = -1;
  } else {
    coords.insert(coords.begin() + axis, -1);
  }
  return coords;
}

inline std::vector<ValueId> at(std::vector<ValueId> coords, int64_t axis, ValueId a) {
  coords[axis] = a;
  return coords;
}

}  // namespace reforge::ops
