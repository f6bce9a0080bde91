#include "models/decode_step.h"

#include <fmt/format.h>

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "compiler/ir/verifier.h"
#include "models/architecture.h"
#include "models/attention.h"
#include "models/blocks/feed_forward.h"
#include "models/decode_caches.h"
#include "models/reformer.h"
#include "models/reformer_layers.h"
#include "runtime/kernels/attention_constants.h"

namespace reforge {
namespace {

// The step being built: its graph, the position, and the caches so far.
struct StepBuilder {
  Graph& g;
  const ReformerConfig& c;
  Tensor position;   // i64 scalar
  DecodeStep& step;  // the cache updates go in its lists
  Graph& setup;      // fills the step's fixed state once
  Tensor setup_rng;  // its "rng" input

  // A state `name` of the step (in the current scope) that never changes:
  // the setup graph computes it once, as `value(setup_rng)`.
  Tensor fixed_state(const std::string& name, const std::function<Tensor(Tensor)>& value) {
    Tensor v = value(setup_rng);
    Tensor state = g.state(name, v.type(), Init::zeros());
    setup.output(state.node().name, v);
    return state;
  }

  // A cache [..., L, w] named `name` in the current scope (zero at first)
  // whose row at this position becomes `row` [..., 1, w] after the step.
  // Returns the cache as the step reads it: the rows before this position.
  Tensor row_cache(const std::string& name, TensorType type, Tensor row) {
    Tensor cache = g.state("cache." + name, std::move(type), Init::zeros());
    std::string output = cache.node().name + ".row";
    g.output(output, row);
    step.carried_rows.push_back({output, cache.node().name});
    return cache;
  }

  // A cache read whole and replaced by next(cache) after the step.
  Tensor whole_cache(const std::string& name, TensorType type, const std::function<Tensor(Tensor)>& next) {
    Tensor cache = g.state("cache." + name, std::move(type), Init::zeros());
    std::string output = cache.node().name + ".next";
    g.output(output, next(cache));
    step.carried.push_back({output, cache.node().name});
    return cache;
  }

  // Keys k [1, H, 1, dk] cached transposed, [1, H, dk, L] (each position
  // a column), so a query's dot products read the cache row by row.
  Tensor key_cache(Tensor k) {
    int64_t h = k.dim(1), dk = k.dim(3);
    Tensor cache = row_cache("k", {k.dtype(), {1, h, dk, c.seq_len, 1}}, reshape(k, {1, h, dk, 1, 1}));
    return reshape(cache, {1, h, dk, c.seq_len});
  }

  // Positions 0..L-1 along `axis` of `shape`.
  Tensor positions(Shape shape, int64_t axis) { return iota(g, std::move(shape), axis); }

  Tensor scalar_i64(double v) { return constant(g, v, {DType::i64, {}}); }
};

// 1 where a cached position comes before this one (its row is written).
Tensor written(StepBuilder& s, Shape shape) {
  int64_t axis = static_cast<int64_t>(shape.size()) - 1;
  return cast(less(s.positions(std::move(shape), axis), s.position), DType::i64);
}

// Softmax attention of queries q [1, H, Q, dk] (Q = rounds, or 1) over
// the cached keys, transposed, k_t [1, H, dk, L], and values v [1, H, L,
// dv] (positions before this one) and this position's own key and value [1, H, 1, *].
// `copies` [1, H, Q, L] and `own_copies` [1, H, Q, 1] (i64) say how often
// each key stands in the query's training-time window: 0 leaves it out, 2
// counts it twice. Returns the outputs [1, H, Q, dv] and their
// logsumexps [1, H, Q, 1].
struct Attended {
  Tensor out, lse;
};
Attended attend_cached(StepBuilder& s, Tensor q, Tensor k_t, Tensor v, Tensor copies, Tensor own_k, Tensor own_v,
                       Tensor own_copies, bool mask_self) {
  Graph& g = s.g;
  int64_t len = k_t.dim(3);
  // log(copies) for the keys in the window (log 1 = 0 leaves a logit as
  // training has it); the others -inf. Training's masked keys weigh
  // exp(x - 1e9 - lse) = 0 exactly, as exp(-inf) does, but an exp deep in
  // underflow is the slow path of a math library.
  auto weigh = [&](Tensor logits, Tensor count) {
    Tensor present = greater(count, constant(g, 0.0, count.type()));
    Tensor times = cast(maximum(count, constant(g, 1.0, count.type())), logits.dtype());
    return select(present, logits + log(times), full_like(logits, -INFINITY));
  };
  Tensor cached = weigh(matmul(q, k_t), copies);               // [1, H, Q, L]
  Tensor own = weigh(sum(q * own_k, {-1}, true), own_copies);  // [1, H, Q, 1]
  if (mask_self) own = own - kernels::kAttentionSelfMask;
  Tensor logits = concat({cached, own}, 3);
  Tensor lse = logsumexp(logits, -1, true);
  Tensor p = exp(logits - lse);
  Tensor out = matmul(slice(p, 3, 0, len), v) + slice(p, 3, len, len + 1) * own_v;
  return {out, lse};
}

// The LSH layer's step. Per round it caches each position's bucket, its
// rank among the earlier positions of its bucket (fixed once written: a
// later position never sorts before it in its bucket), and the count of
// each bucket; a position's index in the round's sorted order is then the
// count of the buckets below its own plus its rank, without sorting.
Tensor lsh_step(StepBuilder& s, Tensor q, Tensor v, int64_t stream) {
  const ReformerConfig& c = s.c;
  Graph& g = s.g;
  int64_t h = q.dim(1), dk = q.dim(3), dv = v.dim(3), len = c.seq_len, rounds = c.n_hashes;
  int64_t lp = c.padded_len(), chunk = c.chunk_len, flat_chunks = rounds * lp / chunk, buckets = c.buckets();
  Tensor own_k = unit_length(q);
  Tensor k_all = s.key_cache(own_k);
  Tensor v_all = s.row_cache("v", {v.dtype(), {1, h, len, dv}}, v);

  Tensor rotations = s.fixed_state("hash.rotations", [&](Tensor key) {
    return hash_rotations({key, stream}, h, dk, c);
  });
  Tensor bucket = hash_queries(q, rotations, c);                               // [1, H, R, 1]
  Tensor hit = one_hot(reshape(bucket, {1, h, rounds}), buckets, DType::i64);  // [1, H, R, nb]
  Tensor counts =
      s.whole_cache("counts", {DType::i64, {1, h, rounds, buckets}}, [&](Tensor cached) { return cached + hit; });
  Tensor rank = sum(counts * hit, {3}, true);  // earlier positions in this bucket: [1, H, R, 1]
  Tensor key_bucket =
      reshape(s.row_cache("bucket", {DType::i64, {1, h, rounds, len, 1}}, reshape(bucket, {1, h, rounds, 1, 1})),
              {1, h, rounds, len});
  Tensor key_rank =
      reshape(s.row_cache("rank", {DType::i64, {1, h, rounds, len, 1}}, reshape(rank, {1, h, rounds, 1, 1})),
              {1, h, rounds, len});

  // How many positions, this one included, sort before each bucket.
  Tensor before_bucket = positions_before_buckets(counts + hit);    // [1, H, R, nb]
  Tensor sorted = gather(before_bucket, key_bucket, 3) + key_rank;  // [1, H, R, L]
  Tensor own_sorted = gather(before_bucket, bucket, 3) + rank;      // [1, H, R, 1]

  // Chunks of the flat sorted order over all rounds (round r's slots start
  // at r * Lp): the query's chunk in each round and the one before it
  // (chunk 0's is the last, as training wraps around).
  Tensor round_start = iota(g, {1, 1, rounds, 1}, 2) * s.scalar_i64(static_cast<double>(lp));
  Tensor chunk_len = s.scalar_i64(static_cast<double>(chunk));
  Tensor key_chunk = floordiv(sorted + round_start, chunk_len);        // [1, H, R, L]
  Tensor query_chunk = floordiv(own_sorted + round_start, chunk_len);  // [1, H, R, 1]
  Tensor n = s.scalar_i64(static_cast<double>(flat_chunks));
  Tensor before = mod(query_chunk - s.scalar_i64(1.0) + n, n);
  // copies[r, j]: how often position j's slots lie in round r's query
  // chunk or the one before it. Its own chunk holds slots of round r
  // only; the one before it, those of round r or (for a round's first
  // chunk) of round r - 1, which wraps to the last.
  auto copies_of = [&](Tensor chunks) {  // chunks [1, H, R, width] -> copies [1, H, R, width]
    Tensor hits = cast(equal(chunks, query_chunk), DType::i64) + cast(equal(chunks, before), DType::i64);
    if (rounds == 1) return hits;
    Tensor round_before =
        concat({slice(chunks, 2, rounds - 1, rounds), slice(chunks, 2, 0, rounds - 1)}, 2);  // round r-1 at r
    return hits + cast(equal(round_before, before), DType::i64);
  };
  Tensor copies = copies_of(key_chunk) * written(s, {1, h, rounds, len});
  Tensor own_copies = copies_of(query_chunk);

  Tensor queries = reshape(q, {1, h, 1, dk});
  Attended a = attend_cached(s, queries, k_all, v_all, copies, own_k, v, own_copies, /*mask_self=*/true);
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
  int64_t h = q.dim(1), dv = v.dim(3), len = c.seq_len;
  Tensor k_all = s.key_cache(k);
  Tensor v_all = s.row_cache("v", {v.dtype(), {1, h, len, dv}}, v);
  Shape per_key{1, h, 1, len};
  Tensor chunk_len = s.scalar_i64(static_cast<double>(chunk));
  Tensor query_chunk = floordiv(s.position, chunk_len);
  auto copies_of = [&](Tensor key_chunk) {
    Tensor hits = cast(equal(key_chunk, query_chunk), DType::i64);
    if (!look_back) return hits;
    Tensor n = s.scalar_i64(static_cast<double>(c.padded_len() / chunk));
    return hits + cast(equal(key_chunk, mod(query_chunk - s.scalar_i64(1.0) + n, n)), DType::i64);
  };
  Tensor copies = copies_of(floordiv(s.positions(per_key, 3), chunk_len)) * written(s, per_key);
  Tensor own_copies = broadcast_to(copies_of(query_chunk), {1, h, 1, 1});
  return attend_cached(s, q, k_all, v_all, copies, k, v, own_copies, shared_qk).out;
}

// One attention sublayer on the normalised x [1, 1, d] -> [1, 1, d].
Tensor attention_step(StepBuilder& s, Tensor normed, const AttentionWeights& w, AttentionKind kind, int64_t stream) {
  const ReformerConfig& c = s.c;
  Tensor q = split_heads(linear(normed, w.w_q), c.n_heads);  // [1, H, 1, dk]
  Tensor v = split_heads(linear(normed, w.w_v), c.n_heads);
  Tensor out;
  if (kind == AttentionKind::lsh) {
    out = lsh_step(s, q, v, stream);
  } else {
    double scale = 1.0 / std::sqrt(static_cast<double>(q.dim(3)));
    Tensor k = w.w_k.valid() ? split_heads(linear(normed, w.w_k), c.n_heads) * scale : unit_length(q);
    bool local = kind == AttentionKind::local;
    out = sequence_chunk_step(s, q, k, v, !w.w_k.valid(), local ? c.chunk_len : c.padded_len(), local);
  }
  return linear(merge_heads(out), w.w_o);
}

}  // namespace

std::string why_no_decode_step(const ReformerConfig& config) {
  if (config.architecture != kReformerLm) {
    return fmt::format("generation one token at a time is built for the {} architecture, not '{}'", kReformerLm,
                       config.architecture);
  }
  if (!config.causal) return "generation one token at a time needs a causal model (--causal=true)";
  if (config.attention_mode == AttentionMode::paper) {
    return "generation with a cache does not take --attention_mode=paper (generate with --no_cache)";
  }
  return "";
}

DecodeStep build_reformer_decode_step(const ReformerConfig& config, const std::string& name, DType float_type) {
  config.validate();
  if (std::string why = why_no_decode_step(config); !why.empty()) throw Error(why);
  ReformerConfig c = config;
  c.dropout = 0.0;
  c.attention_dropout = 0.0;
  DecodeStep step;
  step.graph = std::make_unique<Graph>(name + ".decode");
  Graph& g = *step.graph;
  g.set_default_float(float_type);
  step.setup = std::make_unique<Graph>(name + ".decode_setup");
  step.setup->set_default_float(float_type);
  StepBuilder s{g, c, Tensor{}, step, *step.setup, step.setup->input("rng", {DType::i64, {}})};
  Tensor token = g.input("token", {DType::i64, {1, 1}});
  s.position = g.input("position", {DType::i64, {}});

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
      attended =
          attention_step(s, normalize(c.reversible ? x2 : x1, norm), weights, kind, layer * kRandomStreamsPerLayer);
    }
    FeedForwardConfig ff_config = feed_forward_config(c);
    FeedForwardParams ff = make_feed_forward(g, ff_config);
    if (c.reversible) {
      x1 = x1 + attended;  // y1 = x1 + F(x2); y2 = x2 + G(y1)
      x2 = x2 + feed_forward_body(x1, ff, ff_config);
    } else {
      x1 = x1 + attended;
      x1 = x1 + feed_forward_body(x1, ff, ff_config);
    }
  }
  auto scope = g.scope("head");
  Tensor h = c.reversible ? concat({x1, x2}, 2) : x1;
  g.output("logits", reshape(lm_head(g, h, table, c), {1, c.vocab_size}));
  verify(g);
  verify(*step.setup);

  ReformerConfig one_sequence = c;
  one_sequence.batch = 1;
  one_sequence.replicas = 1;
  step.prefill = std::make_unique<Graph>(name + ".prefill");
  step.prefill->set_default_float(float_type);
  ReformerModel whole =
      build_reformer(*step.prefill, one_sequence, {.valid_length_input = true, .decode_caches = true, .loss = false});
  step.prefill->output("logits", whole.logits);
  verify(*step.prefill);
  return step;
}

ValueMap run_decode_setup(const DecodeStep& step, int64_t rng) {
  return run_graph(*step.setup, {{"rng", HostTensor::scalar(DType::i64, static_cast<double>(rng))}});
}

void update_caches(const DecodeStep& step, const ValueMap& outputs, int64_t position, ValueMap& state) {
  for (const runtime::CarriedSlot& c : step.carried) state.at(c.slot) = outputs.at(c.next);
  for (const runtime::CarriedSlot& c : step.carried_rows) {
    const HostTensor& row = outputs.at(c.next);
    HostTensor& cache = state.at(c.slot);
    const Shape& shape = cache.shape();
    int64_t rows = shape[shape.size() - 2], width = shape.back();
    for (int64_t block = 0; block * width < static_cast<int64_t>(row.data.size()); ++block) {
      std::copy_n(row.data.begin() + block * width, width, cache.data.begin() + (block * rows + position) * width);
    }
  }
}

}  // namespace reforge
