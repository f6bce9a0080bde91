#include "models/decode_step.h"

#include <fmt/format.h>

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "compiler/ir/verifier.h"
#include "models/attention.h"
#include "models/reformer_layers.h"
#include "runtime/kernels/attention_constants.h"

namespace reforge {
namespace {

constexpr int64_t kStreamsPerLayer = 8;  // as the whole-sequence model (reformer.cc)

// The step being built: its graph, the position, and the caches so far.
struct StepBuilder {
  Graph& g;
  const ReformerConfig& c;
  Tensor position;  // i64 scalar
  std::vector<CarriedValue>& caches;

  // A cache of `type` named `name` in the current scope, zero at first,
  // whose next value `next(cache)` is carried out of the step.
  Tensor cache(const std::string& name, TensorType type, const std::function<Tensor(Tensor)>& next) {
    Tensor c = g.state("cache." + name, std::move(type), Init::zeros());
    Tensor n = next(c);
    std::string output = c.node().name + ".next";
    g.output(output, n);
    caches.push_back({c.node().name, output});
    return n;
  }

  // Positions 0..L-1 along `axis` of `shape`.
  Tensor positions(Shape shape, int64_t axis) { return iota(g, std::move(shape), axis); }

  // `value` [.., 1, w] written at this position of cache [.., L, w].
  Tensor write_row(Tensor cache, Tensor value) {
    Shape s = cache.shape();
    Shape row_shape = s;
    row_shape.back() = 1;
    Tensor here = equal(positions(row_shape, static_cast<int64_t>(s.size()) - 2), position);
    return select(broadcast_to(here, s), broadcast_to(value, s), cache);
  }

  Tensor scalar_i64(double v) { return constant(g, v, {DType::i64, {}}); }
};

// Softmax attention of one query q [1, H, Q, dk] (Q = rounds, or 1) over
// the cached keys and values k [1, H, L, dk], v [1, H, L, dv], where
// `copies` [1, H, Q, L] (i64) says how often each key stands in the
// query's training-time window: 0 leaves it out, 2 counts it twice.
// Returns the outputs [1, H, Q, dv] and their logsumexps [1, H, Q, 1].
struct Attended {
  Tensor out, lse;
};
Attended attend_cached(StepBuilder& s, Tensor q, Tensor k, Tensor v, Tensor copies, bool mask_self) {
  Tensor logits = matmul(q, swap_last_axes(k));  // [1, H, Q, L]
  Tensor keys_at = s.positions(copies.shape(), 3);
  auto penalty = [&](Tensor mask, double amount) { return cast(mask, logits.dtype()) * amount; };
  if (mask_self) logits = logits - penalty(equal(keys_at, s.position), kernels::kAttentionSelfMask);
  // log(copies) for the keys in the window (log 1 = 0 leaves a key as
  // training has it); the others masked out as training masks them.
  Tensor present = greater(copies, constant(s.g, 0.0, copies.type()));
  Tensor count = cast(maximum(copies, constant(s.g, 1.0, copies.type())), logits.dtype());
  logits = logits + log(count) - penalty(logical_not(present), kernels::kAttentionMaskedOut);
  Tensor lse = logsumexp(logits, -1, true);
  return {matmul(exp(logits - lse), v), lse};
}

// 1 where a cached position is in the prefix (at most this position).
Tensor in_prefix(StepBuilder& s, Shape shape) {
  return cast(less_equal(s.positions(std::move(shape), 3), s.position), DType::i64);
}

// The LSH layer's step: caches keys, values, buckets and sorted indices.
Tensor lsh_step(StepBuilder& s, Tensor q, Tensor v, const AttentionRandomness& rng) {
  const ReformerConfig& c = s.c;
  Graph& g = s.g;
  int64_t h = q.dim(1), dk = q.dim(3), dv = v.dim(3), len = c.seq_len, rounds = c.n_hashes;
  int64_t lp = c.padded_len(), chunk = c.chunk_len, flat_chunks = rounds * lp / chunk;
  Tensor k_all = s.cache("k", {q.dtype(), {1, h, len, dk}}, [&](Tensor k) { return s.write_row(k, unit_length(q)); });
  Tensor v_all = s.cache("v", {v.dtype(), {1, h, len, dv}}, [&](Tensor cached) { return s.write_row(cached, v); });

  // This position's bucket in each round, and where it sorts: after every
  // earlier position whose bucket is at most its own (it is the last of
  // its bucket); the earlier positions of higher buckets move up by one.
  TensorType per_round{DType::i64, {1, h, rounds, len}};
  Tensor bucket = hash_queries(q, rng, c);  // [1, H, R, 1]
  Tensor earlier = less(s.positions(per_round.shape, 3), s.position);
  Tensor buckets = s.cache("bucket", per_round, [&](Tensor cached) {
    return select(equal(s.positions(per_round.shape, 3), s.position), broadcast_to(bucket, per_round.shape), cached);
  });
  // `buckets` now holds this position's too; compare the earlier ones.
  Tensor at_most = logical_and(earlier, less_equal(buckets, bucket));
  Tensor sorted_here = sum(cast(at_most, DType::i64), {3}, true);  // [1, H, R, 1]
  Tensor sorted = s.cache("sorted", per_round, [&](Tensor cached) {
    Tensor moved = cached + cast(logical_and(earlier, greater(buckets, bucket)), DType::i64);
    return select(equal(s.positions(per_round.shape, 3), s.position), broadcast_to(sorted_here, per_round.shape),
                  moved);
  });

  // Chunks of the flat sorted order over all rounds (round r's slots start
  // at r * Lp): the query's chunk in each round and the one before it
  // (chunk 0's is the last, as training wraps around).
  Tensor round_start = iota(g, {1, 1, rounds, 1}, 2) * s.scalar_i64(static_cast<double>(lp));
  Tensor chunk_len = s.scalar_i64(static_cast<double>(chunk));
  Tensor key_chunk = floordiv(sorted + round_start, chunk_len);        // [1, H, R, L]
  Tensor query_chunk = floordiv(sorted_here + round_start, chunk_len);  // [1, H, R, 1]
  Tensor n = s.scalar_i64(static_cast<double>(flat_chunks));
  Tensor before = mod(query_chunk - s.scalar_i64(1.0) + n, n);
  // copies[q_round, j]: over the key rounds, how often position j's slot
  // lies in the query's chunk or in the one before it.
  Tensor keys = reshape(key_chunk, {1, h, 1, rounds, len});
  Tensor own = reshape(query_chunk, {1, h, rounds, 1, 1}), previous = reshape(before, {1, h, rounds, 1, 1});
  Tensor hits = cast(equal(keys, own), DType::i64) + cast(equal(keys, previous), DType::i64);
  Tensor copies = sum(hits, {3}) * in_prefix(s, {1, h, rounds, len});  // [1, H, R, L]

  Tensor queries = broadcast_to(q, {1, h, rounds, dk});
  Attended a = attend_cached(s, queries, k_all, v_all, copies, /*mask_self=*/true);
  // Rounds combined with weights softmax over rounds of their logsumexps.
  Tensor weights = softmax(reshape(a.lse, {1, h, rounds}), 2);
  Tensor out = sum(a.out * reshape(weights, {1, h, rounds, 1}), {2});  // [1, H, dv]
  return reshape(out, {1, h, 1, dv});
}

// Local and full attention's step: keys and values cached; the window is
// the query's chunk and (local) the one before it, wrapping around.
Tensor sequence_chunk_step(StepBuilder& s, Tensor q, Tensor k, Tensor v, bool shared_qk, int64_t chunk,
                           bool look_back) {
  const ReformerConfig& c = s.c;
  int64_t h = q.dim(1), dk = q.dim(3), dv = v.dim(3), len = c.seq_len;
  Tensor k_all = s.cache("k", {q.dtype(), {1, h, len, dk}}, [&](Tensor cached) { return s.write_row(cached, k); });
  Tensor v_all = s.cache("v", {v.dtype(), {1, h, len, dv}}, [&](Tensor cached) { return s.write_row(cached, v); });
  Shape per_key{1, h, 1, len};
  Tensor copies = in_prefix(s, per_key);
  Tensor chunk_len = s.scalar_i64(static_cast<double>(chunk));
  Tensor key_chunk = floordiv(s.positions(per_key, 3), chunk_len);
  Tensor query_chunk = floordiv(s.position, chunk_len);
  Tensor hits = cast(equal(key_chunk, query_chunk), DType::i64);
  if (look_back) {
    Tensor n = s.scalar_i64(static_cast<double>(c.padded_len() / chunk));
    Tensor before = mod(query_chunk - s.scalar_i64(1.0) + n, n);
    hits = hits + cast(equal(key_chunk, before), DType::i64);
  }
  return attend_cached(s, q, k_all, v_all, hits * copies, shared_qk).out;
}

// One attention sublayer on the normalised x [1, 1, d] -> [1, 1, d].
Tensor attention_step(StepBuilder& s, Tensor normed, const AttentionWeights& w, AttentionKind kind,
                      const AttentionRandomness& rng) {
  const ReformerConfig& c = s.c;
  Tensor q = split_heads(linear(normed, w.w_q), c.n_heads);  // [1, H, 1, dk]
  Tensor v = split_heads(linear(normed, w.w_v), c.n_heads);
  Tensor out;
  if (kind == AttentionKind::lsh) {
    out = lsh_step(s, q, v, rng);
  } else {
    double scale = 1.0 / std::sqrt(static_cast<double>(q.dim(3)));
    Tensor k = w.w_k.valid() ? split_heads(linear(normed, w.w_k), c.n_heads) * scale : unit_length(q);
    bool local = kind == AttentionKind::local;
    out = sequence_chunk_step(s, q, k, v, !w.w_k.valid(), local ? c.chunk_len : c.padded_len(), local);
  }
  return linear(merge_heads(out), w.w_o);
}

}  // namespace

DecodeStep build_reformer_decode_step(const ReformerConfig& config, const std::string& name, DType float_type) {
  config.validate();
  if (!config.causal) throw Error("generation one token at a time needs a causal model (--causal=true)");
  if (config.attention_mode == AttentionMode::paper) {
    throw Error("generation with a cache does not take --attention_mode=paper (generate with --no_cache)");
  }
  ReformerConfig c = config;
  c.dropout = 0.0;
  c.attention_dropout = 0.0;
  DecodeStep step;
  step.graph = std::make_unique<Graph>(name + ".decode");
  Graph& g = *step.graph;
  g.set_default_float(float_type);
  StepBuilder s{g, c, Tensor{}, step.caches};
  Tensor token = g.input("token", {DType::i64, {1, 1}});
  s.position = g.input("position", {DType::i64, {}});
  Tensor rng = g.input("rng", {DType::i64, {}});

  Tensor table, x;
  {
    auto scope = g.scope("embed");
    table = g.param("tokens", {c.vocab_size, c.d_model}, Init::normal(1.0));
    x = embedding(table, token) + axial_at(make_axial_positions(g, c), reshape(s.position, {1, 1}), c);
  }
  Tensor x1 = x, x2 = x;  // the two reversible streams start as duplicates; x1 alone otherwise
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    auto scope = g.scope(fmt::format("layer{}", layer));
    AttentionKind kind = c.attention_of_layer(layer);
    LayerNormParams norm;
    AttentionWeights weights;
    Tensor attended;
    {
      auto attn_scope = g.scope("attn");
      norm = make_layer_norm(g, c.d_model);
      weights = make_attention_weights(g, c, kind);
      AttentionRandomness randomness{rng, layer * kStreamsPerLayer};
      attended = attention_step(s, normalize(c.reversible ? x2 : x1, norm), weights, kind, randomness);
    }
    FeedForwardParams ff = make_feed_forward(g, c);
    if (c.reversible) {
      x1 = x1 + attended;  // y1 = x1 + F(x2); y2 = x2 + G(y1)
      x2 = x2 + feed_forward_body(x1, ff, c);
    } else {
      x1 = x1 + attended;
      x1 = x1 + feed_forward_body(x1, ff, c);
    }
  }
  auto scope = g.scope("head");
  Tensor h = c.reversible ? concat({x1, x2}, 2) : x1;
  g.output("logits", reshape(lm_head(g, h, table, c), {1, c.vocab_size}));
  verify(g);
  return step;
}

}  // namespace reforge
