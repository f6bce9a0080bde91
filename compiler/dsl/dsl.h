// The C++ graph DSL: free functions and operators over Tensor handles that
// append nodes to the handle's Graph.
//
//   Graph g("mlp");
//   Tensor x = g.input("x", {DType::f32, {batch, 3}});
//   Tensor w = g.param("w", {3, 8}, Init::normal(0.1));
//   Tensor h = relu(matmul(x, w) + g.param("b", {8}, Init::zeros()));
//
// Every function records the caller's file and line (std::source_location),
// so a shape error names the user's code, the op and the shapes. Binary ops
// broadcast numpy-style by inserting explicit `broadcast` nodes; the IR ops
// themselves require equal shapes.
#pragma once

#include <functional>
#include <source_location>
#include <vector>

#include "compiler/ir/graph.h"

namespace reforge {

#define REFORGE_HERE std::source_location loc = std::source_location::current()

// A Tensor plus the source line of the expression it appears in; lets the
// operators below record the user's line.
struct At {
  Tensor t;
  SourceLoc loc;
  At(Tensor tensor, std::source_location l = std::source_location::current())  // NOLINT: implicit on purpose
      : t(tensor), loc(to_source_loc(l)) {}
};

// ---- constants and index sources ----
Tensor constant(Graph& g, double value, TensorType type, REFORGE_HERE);
Tensor full_like(Tensor x, double value, REFORGE_HERE);
Tensor iota(Graph& g, Shape shape, int64_t axis, DType dtype = DType::i64, REFORGE_HERE);

// ---- elementwise ----
Tensor exp(Tensor x, REFORGE_HERE);
Tensor log(Tensor x, REFORGE_HERE);
Tensor tanh(Tensor x, REFORGE_HERE);
Tensor sqrt(Tensor x, REFORGE_HERE);
Tensor rsqrt(Tensor x, REFORGE_HERE);
Tensor relu(Tensor x, REFORGE_HERE);
Tensor gelu(Tensor x, REFORGE_HERE);  // tanh approximation, as trax and BERT
Tensor abs(Tensor x, REFORGE_HERE);
Tensor neg(Tensor x, REFORGE_HERE);
Tensor logical_not(Tensor x, REFORGE_HERE);
Tensor cast(Tensor x, DType dtype, REFORGE_HERE);

Tensor add(Tensor a, Tensor b, REFORGE_HERE);
Tensor sub(Tensor a, Tensor b, REFORGE_HERE);
Tensor mul(Tensor a, Tensor b, REFORGE_HERE);
Tensor div(Tensor a, Tensor b, REFORGE_HERE);
Tensor maximum(Tensor a, Tensor b, REFORGE_HERE);
Tensor minimum(Tensor a, Tensor b, REFORGE_HERE);
Tensor mod(Tensor a, Tensor b, REFORGE_HERE);       // integer remainder, sign of the divisor
Tensor floordiv(Tensor a, Tensor b, REFORGE_HERE);  // integer floor division
Tensor equal(Tensor a, Tensor b, REFORGE_HERE);
Tensor not_equal(Tensor a, Tensor b, REFORGE_HERE);
Tensor less(Tensor a, Tensor b, REFORGE_HERE);
Tensor less_equal(Tensor a, Tensor b, REFORGE_HERE);
Tensor greater(Tensor a, Tensor b, REFORGE_HERE);
Tensor greater_equal(Tensor a, Tensor b, REFORGE_HERE);
Tensor logical_and(Tensor a, Tensor b, REFORGE_HERE);
Tensor logical_or(Tensor a, Tensor b, REFORGE_HERE);
// where(cond, a, b): a where cond is true, else b (all three broadcast).
Tensor select(Tensor cond, Tensor a, Tensor b, REFORGE_HERE);

Tensor operator+(At a, Tensor b);
Tensor operator-(At a, Tensor b);
Tensor operator*(At a, Tensor b);
Tensor operator/(At a, Tensor b);
Tensor operator+(At a, double b);
Tensor operator-(At a, double b);
Tensor operator*(At a, double b);
Tensor operator/(At a, double b);
Tensor operator+(double a, At b);
Tensor operator-(double a, At b);
Tensor operator*(double a, At b);
Tensor operator/(double a, At b);
Tensor operator-(At a);

// ---- reductions ----
Tensor sum(Tensor x, std::vector<int64_t> axes, bool keepdims = false, REFORGE_HERE);
Tensor max(Tensor x, std::vector<int64_t> axes, bool keepdims = false, REFORGE_HERE);
Tensor mean(Tensor x, std::vector<int64_t> axes, bool keepdims = false, REFORGE_HERE);
Tensor sum_all(Tensor x, REFORGE_HERE);
Tensor mean_all(Tensor x, REFORGE_HERE);
Tensor logsumexp(Tensor x, int64_t axis, bool keepdims = false, REFORGE_HERE);
Tensor softmax(Tensor x, int64_t axis, REFORGE_HERE);
Tensor argmax(Tensor x, int64_t axis, REFORGE_HERE);  // i64, axis removed

// ---- linear algebra ----
// [..., m, k] x [..., k, n] -> [..., m, n]; batch dimensions broadcast, and
// a rank-1 right operand is not promoted (use reshape).
Tensor matmul(Tensor a, Tensor b, REFORGE_HERE);
// x [..., k] times w [k, n] -> [..., n], as one 2-D matmul (the weight is
// not broadcast over the leading dimensions).
Tensor linear(Tensor x, Tensor w, REFORGE_HERE);

// ---- layout ----
Tensor reshape(Tensor x, Shape shape, REFORGE_HERE);  // one -1 allowed
Tensor transpose(Tensor x, std::vector<int64_t> perm, REFORGE_HERE);
Tensor swap_last_axes(Tensor x, REFORGE_HERE);
Tensor broadcast_to(Tensor x, Shape shape, REFORGE_HERE);
Tensor slice(Tensor x, int64_t axis, int64_t start, int64_t end, REFORGE_HERE);
Tensor concat(const std::vector<Tensor>& parts, int64_t axis, REFORGE_HERE);
Tensor pad(Tensor x, int64_t axis, int64_t low, int64_t high, double value = 0.0, REFORGE_HERE);

// ---- indexing ----
// take_along_axis: idx has x's rank and x's shape except along `axis`.
Tensor gather(Tensor x, Tensor idx, int64_t axis, REFORGE_HERE);
// The adjoint of gather: base with updates added at idx along `axis`.
Tensor scatter_add(Tensor base, Tensor idx, Tensor updates, int64_t axis, REFORGE_HERE);
// numpy.take with a 1-D index: selects entries of x along `axis`.
Tensor take(Tensor x, Tensor idx, int64_t axis, REFORGE_HERE);
// The adjoint of take: base plus updates added at the indexed entries.
Tensor index_add(Tensor base, Tensor idx, Tensor updates, int64_t axis, REFORGE_HERE);
// Stable ascending argsort along `axis` (i64 result).
Tensor argsort(Tensor x, int64_t axis, REFORGE_HERE);
Tensor one_hot(Tensor ids, int64_t depth, DType dtype, REFORGE_HERE);
// table [V, d], ids [...] -> [..., d]
Tensor embedding(Tensor table, Tensor ids, REFORGE_HERE);

// ---- neural-network building blocks ----
// Over the last axis: (x - mean) / sqrt(var + epsilon) * gamma + beta, the
// variance biased; gamma and beta [width]. One row kernel.
Tensor layer_norm(Tensor x, Tensor gamma, Tensor beta, double epsilon = 1e-6, REFORGE_HERE);
// Its gradient with respect to x, given y's cotangent dy (the VJP's).
Tensor layer_norm_grad(Tensor x, Tensor gamma, Tensor dy, double epsilon = 1e-6, REFORGE_HERE);
// Per-position -log softmax(logits)[label]; logits [..., V], labels [...] (integer).
Tensor cross_entropy(Tensor logits, Tensor labels, REFORGE_HERE);

// ---- randomness from an explicit key (counter-based: the same key and
// stream give the same numbers whenever and however often they are drawn) ----
Tensor random_normal(Tensor key, Shape shape, int64_t stream, REFORGE_HERE);
Tensor random_uniform(Tensor key, Shape shape, int64_t stream, REFORGE_HERE);
// Inverted dropout: zeroes with probability `rate`, scales the rest by
// 1/(1-rate). x's leading axis must run over the batch's rows (each
// replica of a data-parallel step draws its rows' part of the mask).
Tensor dropout(Tensor x, double rate, Tensor key, int64_t stream, REFORGE_HERE);

// ---- data parallelism (ops/collectives.cc) ----
// The sum of x over the replicas of a data-parallel job (each holds its own
// rows of the batch); x itself in one process. Its gradient is the
// cotangent, unsummed: the parameters' gradients are summed once, by the
// all-reduce the compiler places after the backward.
Tensor replica_sum(Tensor x, REFORGE_HERE);

// ---- structured constructs (regions) ----
using RegionBody = std::function<Tensor(Graph& region, const std::vector<Tensor>& args)>;

// Applies `body` to `chunks` equal slices of each `sliced` input along
// `axis` (whole `broadcast` inputs are passed to every chunk) and
// concatenates the results along `axis`. The body must be position-wise.
Tensor chunked_map(const std::vector<Tensor>& sliced, const std::vector<Tensor>& broadcast, int64_t axis,
                   int64_t chunks, const RegionBody& body, REFORGE_HERE);

// A structured op `op` with one region: `body` applied to `inputs` (as
// region arguments). Used for composite ops whose decomposition is their
// reference and which a pass may replace wholesale (lsh_attention).
Tensor region_op(const std::string& op, const std::vector<Tensor>& inputs, AttrMap attrs, const RegionBody& body,
                 REFORGE_HERE);

// Reversible residual block on two streams of equal type, stacked as
// streams [2, ...] (x1 = streams[0], x2 = streams[1]):
//   y1 = x1 + F(x2, f_captures...),  y2 = x2 + G(y1, g_captures...),
// returned stacked the same way, so blocks chain output to input.
Tensor reversible(Tensor streams, const std::vector<Tensor>& f_captures, const std::vector<Tensor>& g_captures,
                  const RegionBody& f, const RegionBody& g, REFORGE_HERE);
// [2, ...] from two tensors of equal type, and one stream back out.
Tensor stack_streams(Tensor x1, Tensor x2, REFORGE_HERE);
Tensor stream(Tensor stacked, int64_t index, REFORGE_HERE);

}  // namespace reforge
