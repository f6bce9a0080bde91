#include "models/decode_caches.h"

#include <cmath>

#include "compiler/dsl/dsl.h"

namespace reforge {

Tensor positions_before_buckets(Tensor counts) {
  Graph& g = *counts.graph;
  const int64_t nb = counts.dim(-1);
  TensorType square{g.default_float(), {nb, nb}};
  Tensor below = cast(less(iota(g, square.shape, 0), iota(g, square.shape, 1)), square.dtype);
  return cast(matmul(cast(counts, square.dtype), below), DType::i64);
}

void output_prefill_caches(Graph& g, const std::string& prefix, Tensor normed, const AttentionWeights& w,
                           AttentionKind kind, Tensor buckets, Tensor valid_length, const ReformerConfig& c) {
  const int64_t len = c.seq_len, h = c.n_heads;
  Tensor q = split_heads(linear(normed, w.w_q), h);  // [1, H, L, dk]
  Tensor v = split_heads(linear(normed, w.w_v), h);  // [1, H, L, dv]
  const int64_t dk = q.dim(3);
  Tensor k = w.w_k.valid() ? split_heads(linear(normed, w.w_k), h) * (1.0 / std::sqrt(static_cast<double>(dk)))
                           : unit_length(q);
  g.output(prefix + "cache.k", reshape(transpose(k, {0, 1, 3, 2}), {1, h, dk, len, 1}));
  g.output(prefix + "cache.v", v);
  if (kind != AttentionKind::lsh) return;

  // Each position's index in its round's sorted order (bucket, then
  // position; the padding bucket last), less the positions of the buckets
  // below its own: its rank among the earlier positions of its bucket.
  const int64_t rounds = c.n_hashes, nb = c.buckets();
  Tensor b = slice(buckets, 3, 0, len);  // [1, H, R, L]
  Tensor position = iota(g, b.shape(), 3);
  Tensor key = b * constant(g, static_cast<double>(len), b.type()) + position;
  Tensor sorted = argsort(argsort(key, 3), 3);
  Tensor valid = less(position, broadcast_to(valid_length, b.shape()));
  TensorType per_bucket{DType::i64, {1, h, rounds, nb + 1}};
  Tensor counts = slice(scatter_add(constant(g, 0.0, per_bucket), b, full_like(b, 1.0), 3), 3, 0, nb);  // no padding
  Tensor before_bucket = positions_before_buckets(counts);                                              // [1, H, R, nb]
  Tensor real_bucket = minimum(b, constant(g, static_cast<double>(nb - 1), b.type()));
  Tensor rank = select(valid, sorted - gather(before_bucket, real_bucket, 3), full_like(sorted, 0.0));
  // Past the prefix, buckets and ranks are 0, as in caches decoded step
  // by step (every index the step computes from them stays in range).
  g.output(prefix + "cache.bucket", reshape(select(valid, b, full_like(b, 0.0)), {1, h, rounds, len, 1}));
  g.output(prefix + "cache.rank", reshape(rank, {1, h, rounds, len, 1}));
  g.output(prefix + "cache.counts", counts);
}

}  // namespace reforge
