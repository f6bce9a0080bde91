#include "compiler/dsl/dsl.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <numeric>

namespace reforge {
namespace {

SourceLoc here(const std::source_location& loc) { return to_source_loc(loc); }

[[noreturn]] void fail(const SourceLoc& loc, const std::string& op, const std::string& what) {
  throw Error(fmt::format("{}{}: {}", error_location(loc), op, what));
}

Graph& graph_of(const Tensor& t, const SourceLoc& loc, const std::string& op) {
  if (!t.valid()) fail(loc, op, "an input is an empty Tensor handle");
  return *t.graph;
}

Tensor unary(const std::string& op, Tensor x, const SourceLoc& loc, AttrMap attrs = {}) {
  return graph_of(x, loc, op).add(op, {x}, std::move(attrs), loc);
}

int64_t normalize_axis(int64_t axis, int64_t rank, const SourceLoc& loc, const std::string& op) {
  int64_t a = axis < 0 ? axis + rank : axis;
  if (a < 0 || a >= rank) fail(loc, op, fmt::format("axis {} out of range for rank {}", axis, rank));
  return a;
}

// numpy broadcasting of two shapes; nullopt when incompatible.
std::optional<Shape> broadcast_shapes(const Shape& a, const Shape& b) {
  size_t rank = std::max(a.size(), b.size());
  Shape out(rank);
  for (size_t i = 0; i < rank; ++i) {
    int64_t da = i < rank - a.size() ? 1 : a[i - (rank - a.size())];
    int64_t db = i < rank - b.size() ? 1 : b[i - (rank - b.size())];
    if (da != db && da != 1 && db != 1) return std::nullopt;
    out[i] = std::max(da, db);
  }
  return out;
}

Tensor broadcast_if_needed(Tensor x, const Shape& shape, const SourceLoc& loc) {
  if (x.shape() == shape) return x;
  AttrMap attrs;
  attrs.set("shape", shape);
  return x.graph->add("broadcast", {x}, std::move(attrs), loc);
}

// Broadcasts every operand to the common shape. Dtypes must agree where
// `same_dtype` lists operand positions that must match.
std::vector<Tensor> broadcast_operands(const std::string& op, std::vector<Tensor> xs, const SourceLoc& loc) {
  Shape shape = {};
  std::vector<std::string> shown;
  for (const Tensor& x : xs) {
    graph_of(x, loc, op);
    shown.push_back(type_to_string(x.type()));
  }
  for (const Tensor& x : xs) {
    if (x.graph != xs[0].graph) fail(loc, op, "operands belong to different graphs");
    auto b = broadcast_shapes(shape, x.shape());
    if (!b) fail(loc, op, fmt::format("shapes {} cannot be broadcast together", fmt::join(shown, " and ")));
    shape = *b;
  }
  for (Tensor& x : xs) x = broadcast_if_needed(x, shape, loc);
  return xs;
}

Tensor binary(const std::string& op, Tensor a, Tensor b, const SourceLoc& loc) {
  auto xs = broadcast_operands(op, {a, b}, loc);
  if (xs[0].dtype() != xs[1].dtype()) {
    fail(loc, op,
         fmt::format("dtypes differ: {} and {} (insert a cast)", type_to_string(a.type()), type_to_string(b.type())));
  }
  return a.graph->add(op, {xs[0], xs[1]}, {}, loc);
}

Tensor scalar_like(Tensor x, double value, const SourceLoc& loc) {
  AttrMap attrs;
  attrs.set("value", value);
  attrs.set("dtype", std::string(dtype_name(x.dtype())));
  attrs.set("shape", x.shape());
  return graph_of(x, loc, "constant").add("constant", {}, std::move(attrs), loc);
}

AttrMap axes_attrs(std::vector<int64_t> axes, int64_t rank, bool keepdims, const SourceLoc& loc,
                   const std::string& op) {
  for (auto& a : axes) a = normalize_axis(a, rank, loc, op);
  std::sort(axes.begin(), axes.end());
  if (std::adjacent_find(axes.begin(), axes.end()) != axes.end()) fail(loc, op, "an axis is repeated");
  AttrMap attrs;
  attrs.set("axes", axes);
  attrs.set("keepdims", static_cast<int64_t>(keepdims));
  return attrs;
}

std::vector<int64_t> all_axes(const Tensor& x) {
  std::vector<int64_t> axes(x.rank());
  std::iota(axes.begin(), axes.end(), 0);
  return axes;
}

// A region named `name` for a structured op built in `parent`: one `arg`
// per type, the body's result as its output, values named under the
// caller's scope path.
std::unique_ptr<Graph> build_region(const std::string& name, Graph& parent, const std::vector<TensorType>& arg_types,
                                    const RegionBody& body, const std::source_location& loc) {
  auto region = std::make_unique<Graph>(name);
  region->set_default_float(parent.default_float());
  auto region_scope = region->scope(parent.scope_path());
  std::vector<Tensor> args;
  for (size_t i = 0; i < arg_types.size(); ++i) args.push_back(region->arg(static_cast<int>(i), arg_types[i], loc));
  region->output("out", body(*region, args));
  return region;
}

std::vector<TensorType> types_of(const std::vector<Tensor>& tensors) {
  std::vector<TensorType> types;
  for (const Tensor& t : tensors) types.push_back(t.type());
  return types;
}

}  // namespace

// ---- constants ----
Tensor constant(Graph& g, double value, TensorType type, std::source_location loc) {
  AttrMap attrs;
  attrs.set("value", value);
  attrs.set("dtype", std::string(dtype_name(type.dtype)));
  attrs.set("shape", type.shape);
  return g.add("constant", {}, std::move(attrs), here(loc));
}

Tensor full_like(Tensor x, double value, std::source_location loc) { return scalar_like(x, value, here(loc)); }

Tensor iota(Graph& g, Shape shape, int64_t axis, DType dtype, std::source_location loc) {
  AttrMap attrs;
  attrs.set("axis", normalize_axis(axis, static_cast<int64_t>(shape.size()), here(loc), "iota"));
  attrs.set("dtype", std::string(dtype_name(dtype)));
  attrs.set("shape", shape);
  return g.add("iota", {}, std::move(attrs), here(loc));
}

// ---- elementwise ----
Tensor exp(Tensor x, std::source_location loc) { return unary("exp", x, here(loc)); }
Tensor log(Tensor x, std::source_location loc) { return unary("log", x, here(loc)); }
Tensor tanh(Tensor x, std::source_location loc) { return unary("tanh", x, here(loc)); }
Tensor sqrt(Tensor x, std::source_location loc) { return unary("sqrt", x, here(loc)); }
Tensor rsqrt(Tensor x, std::source_location loc) { return unary("rsqrt", x, here(loc)); }
Tensor relu(Tensor x, std::source_location loc) { return unary("relu", x, here(loc)); }
Tensor gelu(Tensor x, std::source_location loc) { return unary("gelu", x, here(loc)); }
Tensor abs(Tensor x, std::source_location loc) { return unary("abs", x, here(loc)); }
Tensor neg(Tensor x, std::source_location loc) { return unary("neg", x, here(loc)); }
Tensor logical_not(Tensor x, std::source_location loc) { return unary("logical_not", x, here(loc)); }
Tensor cast(Tensor x, DType dtype, std::source_location loc) {
  AttrMap attrs;
  attrs.set("dtype", std::string(dtype_name(dtype)));
  return unary("cast", x, here(loc), std::move(attrs));
}

Tensor add(Tensor a, Tensor b, std::source_location loc) { return binary("add", a, b, here(loc)); }
Tensor sub(Tensor a, Tensor b, std::source_location loc) { return binary("sub", a, b, here(loc)); }
Tensor mul(Tensor a, Tensor b, std::source_location loc) { return binary("mul", a, b, here(loc)); }
Tensor div(Tensor a, Tensor b, std::source_location loc) { return binary("div", a, b, here(loc)); }
Tensor maximum(Tensor a, Tensor b, std::source_location loc) { return binary("maximum", a, b, here(loc)); }
Tensor minimum(Tensor a, Tensor b, std::source_location loc) { return binary("minimum", a, b, here(loc)); }
Tensor mod(Tensor a, Tensor b, std::source_location loc) { return binary("mod", a, b, here(loc)); }
Tensor floordiv(Tensor a, Tensor b, std::source_location loc) { return binary("floordiv", a, b, here(loc)); }
Tensor equal(Tensor a, Tensor b, std::source_location loc) { return binary("eq", a, b, here(loc)); }
Tensor not_equal(Tensor a, Tensor b, std::source_location loc) { return binary("ne", a, b, here(loc)); }
Tensor less(Tensor a, Tensor b, std::source_location loc) { return binary("lt", a, b, here(loc)); }
Tensor less_equal(Tensor a, Tensor b, std::source_location loc) { return binary("le", a, b, here(loc)); }
Tensor greater(Tensor a, Tensor b, std::source_location loc) { return binary("gt", a, b, here(loc)); }
Tensor greater_equal(Tensor a, Tensor b, std::source_location loc) { return binary("ge", a, b, here(loc)); }
Tensor logical_and(Tensor a, Tensor b, std::source_location loc) { return binary("logical_and", a, b, here(loc)); }
Tensor logical_or(Tensor a, Tensor b, std::source_location loc) { return binary("logical_or", a, b, here(loc)); }

Tensor select(Tensor cond, Tensor a, Tensor b, std::source_location loc) {
  SourceLoc l = here(loc);
  auto xs = broadcast_operands("select", {cond, a, b}, l);
  return cond.graph->add("select", xs, {}, l);
}

Tensor operator+(At a, Tensor b) { return binary("add", a.t, b, a.loc); }
Tensor operator-(At a, Tensor b) { return binary("sub", a.t, b, a.loc); }
Tensor operator*(At a, Tensor b) { return binary("mul", a.t, b, a.loc); }
Tensor operator/(At a, Tensor b) { return binary("div", a.t, b, a.loc); }
Tensor operator+(At a, double b) { return binary("add", a.t, scalar_like(a.t, b, a.loc), a.loc); }
Tensor operator-(At a, double b) { return binary("sub", a.t, scalar_like(a.t, b, a.loc), a.loc); }
Tensor operator*(At a, double b) { return binary("mul", a.t, scalar_like(a.t, b, a.loc), a.loc); }
Tensor operator/(At a, double b) { return binary("div", a.t, scalar_like(a.t, b, a.loc), a.loc); }
Tensor operator+(double a, At b) { return binary("add", scalar_like(b.t, a, b.loc), b.t, b.loc); }
Tensor operator-(double a, At b) { return binary("sub", scalar_like(b.t, a, b.loc), b.t, b.loc); }
Tensor operator*(double a, At b) { return binary("mul", scalar_like(b.t, a, b.loc), b.t, b.loc); }
Tensor operator/(double a, At b) { return binary("div", scalar_like(b.t, a, b.loc), b.t, b.loc); }
Tensor operator-(At a) { return unary("neg", a.t, a.loc); }

// ---- reductions ----
Tensor sum(Tensor x, std::vector<int64_t> axes, bool keepdims, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "sum");
  return unary("reduce_sum", x, l, axes_attrs(std::move(axes), x.rank(), keepdims, l, "sum"));
}

Tensor max(Tensor x, std::vector<int64_t> axes, bool keepdims, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "max");
  return unary("reduce_max", x, l, axes_attrs(std::move(axes), x.rank(), keepdims, l, "max"));
}

Tensor mean(Tensor x, std::vector<int64_t> axes, bool keepdims, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "mean");
  AttrMap attrs = axes_attrs(std::move(axes), x.rank(), keepdims, l, "mean");
  int64_t count = 1;
  for (int64_t a : attrs.get_ints("axes")) count *= x.shape()[a];
  Tensor s = unary("reduce_sum", x, l, std::move(attrs));
  return binary("mul", s, scalar_like(s, 1.0 / static_cast<double>(count), l), l);
}

Tensor sum_all(Tensor x, std::source_location loc) { return sum(x, all_axes(x), false, loc); }
Tensor mean_all(Tensor x, std::source_location loc) { return mean(x, all_axes(x), false, loc); }

Tensor logsumexp(Tensor x, int64_t axis, bool keepdims, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "logsumexp");
  AttrMap attrs;
  attrs.set("axis", normalize_axis(axis, x.rank(), l, "logsumexp"));
  attrs.set("keepdims", static_cast<int64_t>(keepdims));
  return unary("logsumexp", x, l, std::move(attrs));
}

Tensor softmax(Tensor x, int64_t axis, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "softmax");
  AttrMap attrs;
  attrs.set("axis", normalize_axis(axis, x.rank(), l, "softmax"));
  return unary("softmax", x, l, std::move(attrs));
}

Tensor argmax(Tensor x, int64_t axis, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "argmax");
  AttrMap attrs;
  attrs.set("axis", normalize_axis(axis, x.rank(), l, "argmax"));
  return unary("argmax", x, l, std::move(attrs));
}

// ---- linear algebra ----
Tensor matmul(Tensor a, Tensor b, std::source_location loc) {
  SourceLoc l = here(loc);
  Graph& g = graph_of(a, l, "matmul");
  graph_of(b, l, "matmul");
  if (a.rank() < 2 || b.rank() < 2) {
    fail(l, "matmul",
         fmt::format("operands need rank >= 2, got {} and {}", type_to_string(a.type()), type_to_string(b.type())));
  }
  if (a.dim(-1) != b.dim(-2)) {
    fail(l, "matmul",
         fmt::format("contraction sizes differ: {} x {} ({} vs {})", type_to_string(a.type()), type_to_string(b.type()),
                     a.dim(-1), b.dim(-2)));
  }
  Shape batch_a(a.shape().begin(), a.shape().end() - 2);
  Shape batch_b(b.shape().begin(), b.shape().end() - 2);
  auto batch = broadcast_shapes(batch_a, batch_b);
  if (!batch) {
    fail(l, "matmul",
         fmt::format("batch dimensions cannot be broadcast: {} x {}", type_to_string(a.type()),
                     type_to_string(b.type())));
  }
  Shape sa = *batch, sb = *batch;
  sa.insert(sa.end(), {a.dim(-2), a.dim(-1)});
  sb.insert(sb.end(), {b.dim(-2), b.dim(-1)});
  return g.add("matmul", {broadcast_if_needed(a, sa, l), broadcast_if_needed(b, sb, l)}, {}, l);
}

Tensor linear(Tensor x, Tensor w, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "linear");
  graph_of(w, l, "linear");
  if (w.rank() != 2 || x.rank() < 1 || x.dim(-1) != w.dim(0)) {
    fail(l, "linear",
         fmt::format("needs x [..., k] and w [k, n], got {} and {}", type_to_string(x.type()),
                     type_to_string(w.type())));
  }
  if (x.rank() == 2) return matmul(x, w, loc);
  Shape out = x.shape();
  out.back() = w.dim(1);
  return reshape(matmul(reshape(x, {-1, x.dim(-1)}, loc), w, loc), out, loc);
}

// ---- layout ----
Tensor reshape(Tensor x, Shape shape, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "reshape");
  int64_t known = 1, inferred = -1;
  for (size_t i = 0; i < shape.size(); ++i) {
    if (shape[i] == -1) {
      if (inferred >= 0) fail(l, "reshape", "only one dimension may be -1");
      inferred = static_cast<int64_t>(i);
    } else {
      known *= shape[i];
    }
  }
  if (inferred >= 0) {
    if (known == 0 || x.type().elements() % known != 0) {
      fail(l, "reshape", fmt::format("cannot reshape {} to {}", type_to_string(x.type()), shape_to_string(shape)));
    }
    shape[inferred] = x.type().elements() / known;
  }
  AttrMap attrs;
  attrs.set("shape", shape);
  return unary("reshape", x, l, std::move(attrs));
}

Tensor transpose(Tensor x, std::vector<int64_t> perm, std::source_location loc) {
  AttrMap attrs;
  attrs.set("perm", std::move(perm));
  return unary("transpose", x, here(loc), std::move(attrs));
}

Tensor swap_last_axes(Tensor x, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "transpose");
  if (x.rank() < 2) fail(l, "transpose", "needs rank >= 2, got " + type_to_string(x.type()));
  std::vector<int64_t> perm(x.rank());
  std::iota(perm.begin(), perm.end(), 0);
  std::swap(perm[x.rank() - 1], perm[x.rank() - 2]);
  AttrMap attrs;
  attrs.set("perm", perm);
  return unary("transpose", x, l, std::move(attrs));
}

Tensor broadcast_to(Tensor x, Shape shape, std::source_location loc) {
  AttrMap attrs;
  attrs.set("shape", std::move(shape));
  return unary("broadcast", x, here(loc), std::move(attrs));
}

Tensor slice(Tensor x, int64_t axis, int64_t start, int64_t end, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "slice");
  AttrMap attrs;
  attrs.set("axis", normalize_axis(axis, x.rank(), l, "slice"));
  attrs.set("start", start);
  attrs.set("end", end);
  return unary("slice", x, l, std::move(attrs));
}

Tensor concat(const std::vector<Tensor>& parts, int64_t axis, std::source_location loc) {
  SourceLoc l = here(loc);
  if (parts.empty()) fail(l, "concat", "needs at least one input");
  Graph& g = graph_of(parts[0], l, "concat");
  AttrMap attrs;
  attrs.set("axis", normalize_axis(axis, parts[0].rank(), l, "concat"));
  return g.add("concat", parts, std::move(attrs), l);
}

Tensor pad(Tensor x, int64_t axis, int64_t low, int64_t high, double value, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "pad");
  AttrMap attrs;
  attrs.set("axis", normalize_axis(axis, x.rank(), l, "pad"));
  attrs.set("low", low);
  attrs.set("high", high);
  attrs.set("value", value);
  return unary("pad", x, l, std::move(attrs));
}

// ---- indexing ----
namespace {

// An indexing op over `operands` (the indexed tensor first), along `axis`
// of that tensor; every operand must be of the same graph.
Tensor indexed(const char* op, const std::vector<Tensor>& operands, int64_t axis, const SourceLoc& l) {
  Graph& g = graph_of(operands[0], l, op);
  for (size_t i = 1; i < operands.size(); ++i) graph_of(operands[i], l, op);
  AttrMap attrs;
  attrs.set("axis", normalize_axis(axis, operands[0].rank(), l, op));
  return g.add(op, operands, std::move(attrs), l);
}

}  // namespace

Tensor gather(Tensor x, Tensor idx, int64_t axis, std::source_location loc) {
  return indexed("gather", {x, idx}, axis, here(loc));
}

Tensor scatter_add(Tensor base, Tensor idx, Tensor updates, int64_t axis, std::source_location loc) {
  return indexed("scatter_add", {base, idx, updates}, axis, here(loc));
}

Tensor take(Tensor x, Tensor idx, int64_t axis, std::source_location loc) {
  return indexed("take", {x, idx}, axis, here(loc));
}

Tensor index_add(Tensor base, Tensor idx, Tensor updates, int64_t axis, std::source_location loc) {
  return indexed("index_add", {base, idx, updates}, axis, here(loc));
}

Tensor argsort(Tensor x, int64_t axis, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x, l, "argsort");
  AttrMap attrs;
  attrs.set("axis", normalize_axis(axis, x.rank(), l, "argsort"));
  return unary("argsort", x, l, std::move(attrs));
}

Tensor one_hot(Tensor ids, int64_t depth, DType dtype, std::source_location loc) {
  SourceLoc l = here(loc);
  Graph& g = graph_of(ids, l, "one_hot");
  Shape shape = ids.shape();
  shape.push_back(depth);
  Tensor classes = iota(g, shape, -1, ids.dtype(), loc);
  Shape expanded = ids.shape();
  expanded.push_back(1);
  AttrMap reshape_attrs;
  reshape_attrs.set("shape", expanded);
  Tensor column = unary("reshape", ids, l, std::move(reshape_attrs));
  return cast(binary("eq", broadcast_if_needed(column, shape, l), classes, l), dtype, loc);
}

Tensor embedding(Tensor table, Tensor ids, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(table, l, "embedding");
  graph_of(ids, l, "embedding");
  if (table.rank() != 2) fail(l, "embedding", "table must be [vocab, width], got " + type_to_string(table.type()));
  Tensor flat = reshape(ids, {ids.type().elements()}, loc);
  Tensor rows = take(table, flat, 0, loc);
  Shape out = ids.shape();
  out.push_back(table.dim(1));
  return reshape(rows, out, loc);
}

// ---- neural-network building blocks ----
namespace {

// layer_norm and layer_norm_grad: x, gamma, a third operand, epsilon.
Tensor layer_norm_op(const std::string& op, Tensor x, Tensor gamma, Tensor third, double epsilon,
                     const SourceLoc& loc) {
  Graph& g = graph_of(x, loc, op);
  graph_of(gamma, loc, op);
  graph_of(third, loc, op);
  AttrMap attrs;
  attrs.set("epsilon", epsilon);
  return g.add(op, {x, gamma, third}, std::move(attrs), loc);
}

}  // namespace

Tensor layer_norm(Tensor x, Tensor gamma, Tensor beta, double epsilon, std::source_location loc) {
  return layer_norm_op("layer_norm", x, gamma, beta, epsilon, here(loc));
}

Tensor layer_norm_grad(Tensor x, Tensor gamma, Tensor dy, double epsilon, std::source_location loc) {
  return layer_norm_op("layer_norm_grad", x, gamma, dy, epsilon, here(loc));
}

Tensor cross_entropy(Tensor logits, Tensor labels, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(logits, l, "cross_entropy");
  graph_of(labels, l, "cross_entropy");
  Shape expected(logits.shape().begin(), logits.shape().end() - 1);
  if (labels.shape() != expected || !is_integer(labels.dtype())) {
    fail(l, "cross_entropy",
         fmt::format("labels must be integers of shape {} for logits {}, got {}", shape_to_string(expected),
                     type_to_string(logits.type()), type_to_string(labels.type())));
  }
  Shape column = expected;
  column.push_back(1);
  Tensor picked = gather(logits, reshape(labels, column, loc), -1, loc);
  return sub(logsumexp(logits, -1, false, loc), reshape(picked, expected, loc), loc);
}

// ---- randomness ----
static Tensor random(const std::string& op, Tensor key, Shape shape, int64_t stream, const SourceLoc& l) {
  Graph& g = graph_of(key, l, op);
  AttrMap attrs;
  attrs.set("shape", std::move(shape));
  attrs.set("stream", stream);
  attrs.set("dtype", std::string(dtype_name(g.default_float())));
  return g.add(op, {key}, std::move(attrs), l);
}

Tensor replica_sum(Tensor x, std::source_location loc) { return unary("replica_sum", x, here(loc)); }

Tensor random_normal(Tensor key, Shape shape, int64_t stream, std::source_location loc) {
  return random("random_normal", key, std::move(shape), stream, here(loc));
}

Tensor random_uniform(Tensor key, Shape shape, int64_t stream, std::source_location loc) {
  return random("random_uniform", key, std::move(shape), stream, here(loc));
}

Tensor dropout(Tensor x, double rate, Tensor key, int64_t stream, std::source_location loc) {
  SourceLoc l = here(loc);
  if (rate < 0.0 || rate >= 1.0) fail(l, "dropout", fmt::format("rate must be in [0, 1), got {}", rate));
  if (rate == 0.0) return x;
  AttrMap attrs;
  attrs.set("shape", x.shape());
  attrs.set("stream", stream);
  attrs.set("dtype", std::string(dtype_name(x.dtype())));
  // x's leading axis runs over the batch's rows: with data parallelism each
  // replica draws its own rows' numbers of the whole batch's mask.
  attrs.set("by_replica", int64_t{1});
  Tensor u = graph_of(key, l, "dropout").add("random_uniform", {key}, std::move(attrs), l);
  Tensor keep = binary("ge", u, scalar_like(u, rate, l), l);
  Tensor scaled = binary("mul", x, scalar_like(x, 1.0 / (1.0 - rate), l), l);
  return select(keep, scaled, full_like(x, 0.0, loc), loc);
}

// ---- structured constructs ----
Tensor chunked_map(const std::vector<Tensor>& sliced, const std::vector<Tensor>& broadcast, int64_t axis,
                   int64_t chunks, const RegionBody& body, std::source_location loc) {
  SourceLoc l = here(loc);
  if (sliced.empty()) fail(l, "chunked_map", "needs at least one sliced input");
  Graph& g = graph_of(sliced[0], l, "chunked_map");
  int64_t a = normalize_axis(axis, sliced[0].rank(), l, "chunked_map");
  if (chunks < 1 || sliced[0].dim(a) % chunks != 0) {
    fail(l, "chunked_map",
         fmt::format("{} chunks do not divide axis {} of {} (pad the sequence to a multiple)", chunks, a,
                     type_to_string(sliced[0].type())));
  }
  std::vector<TensorType> arg_types;
  for (const Tensor& s : sliced) {
    TensorType t = s.type();
    if (a >= t.rank() || t.shape[a] != sliced[0].dim(a)) {
      fail(l, "chunked_map", "sliced inputs must share the chunked axis, got " + type_to_string(t));
    }
    t.shape[a] /= chunks;
    arg_types.push_back(t);
  }
  std::vector<Tensor> inputs = sliced;
  for (const Tensor& b : broadcast) {
    arg_types.push_back(b.type());
    inputs.push_back(b);
  }
  AttrMap attrs;
  attrs.set("axis", a);
  attrs.set("chunks", chunks);
  attrs.set("sliced", static_cast<int64_t>(sliced.size()));
  std::vector<std::unique_ptr<Graph>> regions;
  regions.push_back(build_region("body", g, arg_types, body, loc));
  return g.add("chunked_map", inputs, std::move(attrs), l, std::move(regions));
}

Tensor reversible(Tensor streams, const std::vector<Tensor>& f_captures, const std::vector<Tensor>& g_captures,
                  const RegionBody& f, const RegionBody& g, std::source_location loc) {
  SourceLoc l = here(loc);
  Graph& graph = graph_of(streams, l, "reversible");
  if (streams.rank() < 1 || streams.dim(0) != 2) {
    fail(l, "reversible", "expects two stacked streams [2, ...], got " + type_to_string(streams.type()));
  }
  TensorType stream_type{streams.dtype(), Shape(streams.shape().begin() + 1, streams.shape().end())};
  auto region_types = [&](const std::vector<Tensor>& captures) {
    std::vector<TensorType> types{stream_type};
    for (const Tensor& c : captures) types.push_back(c.type());
    return types;
  };
  std::vector<std::unique_ptr<Graph>> regions;
  regions.push_back(build_region("f", graph, region_types(f_captures), f, loc));
  regions.push_back(build_region("g", graph, region_types(g_captures), g, loc));
  std::vector<Tensor> inputs{streams};
  inputs.insert(inputs.end(), f_captures.begin(), f_captures.end());
  inputs.insert(inputs.end(), g_captures.begin(), g_captures.end());
  AttrMap attrs;
  attrs.set("f_captures", static_cast<int64_t>(f_captures.size()));
  return graph.add("reversible", inputs, std::move(attrs), l, std::move(regions));
}

Tensor region_op(const std::string& op, const std::vector<Tensor>& inputs, AttrMap attrs, const RegionBody& body,
                 std::source_location loc) {
  SourceLoc l = here(loc);
  if (inputs.empty()) fail(l, op, "needs at least one input");
  Graph& g = graph_of(inputs[0], l, op);
  std::vector<std::unique_ptr<Graph>> regions;
  regions.push_back(build_region(op, g, types_of(inputs), body, loc));
  return g.add(op, inputs, std::move(attrs), l, std::move(regions));
}

Tensor stack_streams(Tensor x1, Tensor x2, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(x1, l, "stack_streams");
  graph_of(x2, l, "stack_streams");
  if (x1.type() != x2.type()) {
    fail(l, "stack_streams",
         fmt::format("streams differ: {} and {}", type_to_string(x1.type()), type_to_string(x2.type())));
  }
  Shape s = x1.shape();
  s.insert(s.begin(), 1);
  return concat({reshape(x1, s, loc), reshape(x2, s, loc)}, 0, loc);
}

Tensor stream(Tensor stacked, int64_t index, std::source_location loc) {
  SourceLoc l = here(loc);
  graph_of(stacked, l, "stream");
  if (stacked.rank() < 1 || stacked.dim(0) != 2 || index < 0 || index > 1) {
    fail(l, "stream", "expects a [2, ...] reversible result and index 0 or 1, got " + type_to_string(stacked.type()));
  }
  Shape s(stacked.shape().begin() + 1, stacked.shape().end());
  return reshape(slice(stacked, 0, index, index + 1, loc), s, loc);
}

}  // namespace reforge
