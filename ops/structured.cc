// Structured ops that own regions:
//   chunked_map  — a position-wise body applied chunk by chunk along an axis
//                  (the feed-forward of a Reformer layer);
//   reversible   — a reversible residual block on stacked streams [2, ...]:
//                  y1 = x1 + F(x2), y2 = x2 + G(y1), result stacked alike.
// Their default gradient rules expand the regions in place (recomputing the
// forward from the block's inputs) and differentiate the expansion;
// compiler passes replace this with reversible reconstruction.
#include "ops/structured.h"

#include "compiler/ir/inline_region.h"
#include "ops/op_helpers.h"

namespace reforge::ops {
namespace {

TensorType region_output_type(const Graph& region) {
  if (region.outputs().size() != 1) shape_error(fmt::format("region '{}' must have one output", region.name()));
  int id = region.outputs()[0].second;
  if (id < 0 || id >= region.size()) shape_error(fmt::format("region '{}' output is dangling", region.name()));
  return region.node(id).type;
}

void check_region_args(const Graph& region, const std::vector<TensorType>& expected) {
  std::vector<TensorType> actual;
  try {
    actual = region_arg_types(region);
  } catch (const Error& e) {
    shape_error(fmt::format("region '{}': {}", region.name(), e.what()));
  }
  if (actual != expected) {
    shape_error(fmt::format("region '{}' takes ({}) but is given ({})", region.name(), types_string(actual),
                            types_string(expected)));
  }
}

// ---- chunked_map ----

std::vector<TensorType> chunk_arg_types(const std::vector<TensorType>& inputs, int64_t axis, int64_t chunks,
                                        int64_t sliced) {
  std::vector<TensorType> types = inputs;
  for (int64_t i = 0; i < sliced; ++i) {
    require_axis(axis, types[i].rank());
    if (chunks < 1 || types[i].shape[axis] % chunks != 0) {
      shape_error(fmt::format("{} chunks do not divide axis {} of {}", chunks, axis, type_to_string(types[i])));
    }
    types[i].shape[axis] /= chunks;
  }
  return types;
}

TensorType infer_chunked_map(const InferContext& c) {
  int64_t axis = c.attrs.get_int("axis"), chunks = c.attrs.get_int("chunks"), sliced = c.attrs.get_int("sliced");
  if (sliced < 1 || sliced > static_cast<int64_t>(c.inputs.size())) shape_error("bad 'sliced' count");
  for (int64_t i = 1; i < sliced; ++i) {
    if (c.inputs[i].rank() <= axis || c.inputs[i].shape[axis] != c.inputs[0].shape[axis]) {
      shape_error("sliced inputs must share the chunked axis: " + types_string(c.inputs));
    }
  }
  if (c.regions.size() != 1) shape_error("needs one region");
  check_region_args(*c.regions[0], chunk_arg_types(c.inputs, axis, chunks, sliced));
  TensorType out = region_output_type(*c.regions[0]);
  require_axis(axis, out.rank());
  out.shape[axis] *= chunks;
  return out;
}

HostTensor eval_chunked_map(const EvalContext& c) {
  const auto& a = c.node.attrs;
  int64_t axis = a.get_int("axis"), chunks = a.get_int("chunks"), sliced = a.get_int("sliced");
  HostTensor out(c.node.type);
  int64_t out_chunk = out.shape()[axis] / chunks;
  for (int64_t k = 0; k < chunks; ++k) {
    std::vector<HostTensor> args;
    for (int64_t i = 0; i < static_cast<int64_t>(c.inputs.size()); ++i) {
      const HostTensor& x = *c.inputs[i];
      if (i >= sliced) {
        args.push_back(x);
        continue;
      }
      TensorType chunk = x.type;
      chunk.shape[axis] /= chunks;
      args.emplace_back(chunk);
      copy_along(x, k * chunk.shape[axis], args.back(), 0, axis, chunk.shape[axis]);
    }
    HostTensor part = c.run_region(0, std::move(args)).at(0);
    copy_along(part, 0, out, k * out_chunk, axis, out_chunk);
  }
  return out;
}

// Differentiates chunk by chunk, so the backward also holds one chunk's
// intermediates at a time.
std::vector<Tensor> vjp_chunked_map(const VjpContext& c) {
  return chunked_map_value_and_vjp(c.graph, c.node(), c.inputs, c.grad, c.differentiate, false).grads;
}

// ---- reversible ----

TensorType stream_type(const TensorType& streams) {
  return TensorType{streams.dtype, Shape(streams.shape.begin() + 1, streams.shape.end())};
}

TensorType infer_reversible(const InferContext& c) {
  if (c.inputs.empty() || c.inputs[0].rank() < 1 || c.inputs[0].shape[0] != 2) {
    shape_error("the first input must be two stacked streams [2, ...]: " + types_string(c.inputs));
  }
  int64_t f_captures = c.attrs.get_int("f_captures");
  if (f_captures < 0 || 1 + f_captures > static_cast<int64_t>(c.inputs.size())) shape_error("bad 'f_captures' count");
  if (c.regions.size() != 2) shape_error("needs regions F and G");
  TensorType x = stream_type(c.inputs[0]);
  std::vector<TensorType> f_args{x}, g_args{x};
  f_args.insert(f_args.end(), c.inputs.begin() + 1, c.inputs.begin() + 1 + f_captures);
  g_args.insert(g_args.end(), c.inputs.begin() + 1 + f_captures, c.inputs.end());
  check_region_args(*c.regions[0], f_args);
  check_region_args(*c.regions[1], g_args);
  for (const auto& region : c.regions) {
    if (region_output_type(*region) != x) {
      shape_error(fmt::format("region '{}' must return the stream type {}", region->name(), type_to_string(x)));
    }
  }
  return c.inputs[0];
}

HostTensor eval_reversible(const EvalContext& c) {
  int64_t f_captures = c.node.attrs.get_int("f_captures");
  const HostTensor& xs = *c.inputs[0];
  TensorType t = stream_type(xs.type);
  int64_t n = t.elements();
  HostTensor x1(t, std::vector<double>(xs.data.begin(), xs.data.begin() + n));
  HostTensor x2(t, std::vector<double>(xs.data.begin() + n, xs.data.end()));
  std::vector<HostTensor> f_args{x2};
  for (int64_t i = 0; i < f_captures; ++i) f_args.push_back(*c.inputs[1 + i]);
  HostTensor y1 = c.run_region(0, std::move(f_args)).at(0);
  for (int64_t i = 0; i < n; ++i) y1[i] += x1[i];
  round_to_dtype(y1);  // G sees y1 exactly as stored
  std::vector<HostTensor> g_args{y1};
  for (size_t i = 1 + f_captures; i < c.inputs.size(); ++i) g_args.push_back(*c.inputs[i]);
  HostTensor y2 = c.run_region(1, std::move(g_args)).at(0);
  for (int64_t i = 0; i < n; ++i) y2[i] += x2[i];
  HostTensor out(c.node.type);
  std::copy(y1.data.begin(), y1.data.end(), out.data.begin());
  std::copy(y2.data.begin(), y2.data.end(), out.data.begin() + n);
  return out;
}

// Default rule: recompute F and G from the block's (stored) input and
// differentiate that. The reversible-recompute pass supplies the rule that
// reconstructs the input from the output instead.
std::vector<Tensor> vjp_reversible(const VjpContext& c) {
  ReversibleOutputs y = inline_reversible(c.graph, c.node(), c.inputs);
  return c.differentiate({y.y1, y.y2}, {stream(c.grad, 0), stream(c.grad, 1)}, c.inputs);
}

}  // namespace

std::vector<Tensor> chunk_arguments(const Node& n, const std::vector<Tensor>& inputs, int64_t k) {
  int64_t axis = n.attrs.get_int("axis"), chunks = n.attrs.get_int("chunks"), sliced = n.attrs.get_int("sliced");
  std::vector<Tensor> args;
  for (size_t i = 0; i < inputs.size(); ++i) {
    Tensor x = inputs[i];
    if (static_cast<int64_t>(i) >= sliced) {
      args.push_back(x);
      continue;
    }
    int64_t len = x.dim(axis) / chunks;
    args.push_back(slice(x, axis, k * len, (k + 1) * len));
  }
  return args;
}

ValueAndGrads chunked_map_value_and_vjp(Graph& graph, const Node& n, const std::vector<Tensor>& inputs,
                                               const Tensor& grad, const Differentiate& differentiate,
                                               bool with_value) {
  const int64_t axis = n.attrs.get_int("axis"), chunks = n.attrs.get_int("chunks"), sliced = n.attrs.get_int("sliced");
  const Graph& body = *n.regions[0];
  const size_t count = inputs.size();
  std::vector<std::vector<Tensor>> sliced_grads(count);
  std::vector<Tensor> broadcast_grads(count), values;
  const int64_t out_len = grad.dim(axis) / chunks;
  for (int64_t k = 0; k < chunks; ++k) {
    std::vector<Tensor> args = chunk_arguments(n, inputs, k);
    for (size_t i = sliced; i < count; ++i) args[i] = reshape(args[i], args[i].shape());  // fresh: stop here
    Tensor out = inline_region(graph, body, args).at(0);
    if (with_value) values.push_back(out);
    Tensor seed = slice(grad, axis, k * out_len, (k + 1) * out_len);
    std::vector<Tensor> grads = differentiate({out}, {seed}, args);
    for (size_t i = 0; i < count; ++i) {
      if (!is_float(inputs[i].dtype())) continue;
      Tensor g = grads[i].valid() ? grads[i] : zeros_like(args[i]);
      if (static_cast<int64_t>(i) < sliced) {
        sliced_grads[i].push_back(g);
      } else {
        broadcast_grads[i] = broadcast_grads[i].valid() ? broadcast_grads[i] + g : g;
      }
    }
  }
  ValueAndGrads result;
  if (with_value) result.value = concat(values, axis);
  result.grads.resize(count);
  for (size_t i = 0; i < count; ++i) {
    if (!is_float(inputs[i].dtype())) continue;
    result.grads[i] = static_cast<int64_t>(i) < sliced ? concat(sliced_grads[i], axis) : broadcast_grads[i];
  }
  return result;
}

ReversibleOperands reversible_operands(const Node& n, const std::vector<Tensor>& inputs) {
  auto f_end = inputs.begin() + 1 + n.attrs.get_int("f_captures");
  return {inputs[0], std::vector<Tensor>(inputs.begin() + 1, f_end), std::vector<Tensor>(f_end, inputs.end())};
}

Tensor inline_body(Graph& graph, const Graph& region, Tensor first, const std::vector<Tensor>& rest) {
  std::vector<Tensor> args{first};
  args.insert(args.end(), rest.begin(), rest.end());
  return inline_region(graph, region, args).at(0);
}

ReversibleOutputs inline_reversible(Graph& graph, const Node& n, const std::vector<Tensor>& inputs) {
  ReversibleOperands o = reversible_operands(n, inputs);
  Tensor x1 = stream(o.streams, 0), x2 = stream(o.streams, 1);
  Tensor y1 = x1 + inline_body(graph, *n.regions[0], x2, o.f_captures);
  Tensor y2 = x2 + inline_body(graph, *n.regions[1], y1, o.g_captures);
  return {y1, y2};
}

namespace {

// Every chunk's body inlined, concatenated along the axis.
Tensor expand_chunked_map(Graph& out, const Node& n, const std::vector<Tensor>& inputs) {
  std::vector<Tensor> parts;
  for (int64_t k = 0; k < n.attrs.get_int("chunks"); ++k) {
    parts.push_back(inline_region(out, *n.regions[0], chunk_arguments(n, inputs, k)).at(0));
  }
  return parts.size() == 1 ? parts[0] : concat(parts, n.attrs.get_int("axis"));
}

Tensor expand_reversible(Graph& out, const Node& n, const std::vector<Tensor>& inputs) {
  ReversibleOutputs y = inline_reversible(out, n, inputs);
  return stack_streams(y.y1, y.y2);
}

}  // namespace

TensorType infer_decomposed(const InferContext& c, const TensorType& out) {
  if (c.regions.size() != 1) shape_error("needs its decomposition as a region");
  std::vector<TensorType> args;
  try {
    args = region_arg_types(*c.regions[0]);
  } catch (const Error& e) {
    shape_error(e.what());
  }
  const Graph& r = *c.regions[0];
  if (args != c.inputs || r.outputs().size() != 1 || r.node(r.outputs()[0].second).type != out) {
    shape_error("the region's signature must match the op's");
  }
  return out;
}

HostTensor eval_decomposed(const EvalContext& c) {
  std::vector<HostTensor> args;
  for (const HostTensor* t : c.inputs) args.push_back(*t);
  return c.run_region(0, std::move(args)).at(0);
}

std::vector<Tensor> vjp_decomposed(const VjpContext& c) {
  std::vector<Tensor> args;
  for (const Tensor& t : c.inputs) args.push_back(reshape(t, t.shape()));  // fresh handles: stop here
  Tensor out = inline_region(c.graph, *c.node().regions[0], args).at(0);
  return c.differentiate({out}, {c.grad}, args);
}

Tensor expand_decomposed(Graph& out, const Node& n, const std::vector<Tensor>& inputs) {
  return inline_region(out, *n.regions.at(0), inputs).at(0);
}

REFORGE_REGISTER_OPS(structured) {
  register_op({.name = "chunked_map",
               .arity = -1,
               .attrs = {{"axis", AttrKind::integer}, {"chunks", AttrKind::integer}, {"sliced", AttrKind::integer}},
               .infer = infer_chunked_map,
               .eval = eval_chunked_map,
               .vjp = vjp_chunked_map,
               .num_regions = 1,
               .kind = OpKind::structured,
               .expand = expand_chunked_map,
               .value_and_vjp =
                   [](Graph& graph, const Node& n, const std::vector<Tensor>& inputs, const Tensor& grad,
                      const Differentiate& differentiate, Tensor& value) {
                     ValueAndGrads both =
                         chunked_map_value_and_vjp(graph, n, inputs, grad, differentiate, /*with_value=*/true);
                     value = both.value;
                     return both.grads;
                   }});
  register_op({.name = "reversible",
               .arity = -1,
               .attrs = {{"f_captures", AttrKind::integer}},
               .infer = infer_reversible,
               .eval = eval_reversible,
               .vjp = vjp_reversible,
               .num_regions = 2,
               .kind = OpKind::structured,
               .expand = expand_reversible,
               .reconstructing_vjp = reversible_reconstruction});
}

}  // namespace reforge::ops
