#include "models/attention.h"

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "runtime/kernels/attention_constants.h"

namespace reforge {

AttentionConfig::AttentionConfig(const ReformerConfig& c)
    : seq_len(c.seq_len),
      d_model(c.d_model),
      n_heads(c.n_heads),
      d_head(c.d_head),
      n_hashes(c.n_hashes),
      chunk_len(c.chunk_len),
      n_buckets(c.n_buckets),
      causal(c.causal),
      attention_mode(c.attention_mode),
      attention_dropout(c.attention_dropout) {}

int64_t AttentionConfig::padded_len() const { return (seq_len + chunk_len - 1) / chunk_len * chunk_len; }

int64_t AttentionConfig::buckets() const {
  return n_buckets > 0 ? n_buckets : std::max<int64_t>(2, 2 * padded_len() / chunk_len);
}

// Large bucket counts are hashed as a product of two even factors (each with
// its own f/2 rotation columns), so hashing costs O(L (f1 + f2)), not O(L nb).
std::vector<int64_t> AttentionConfig::bucket_factors() const {
  int64_t nb = buckets();
  if (nb <= 128) return {nb};
  int64_t best = 0;
  for (int64_t f = 2; f * f <= nb; f += 2) {
    if (nb % f == 0 && (nb / f) % 2 == 0) best = f;
  }
  if (best == 0) return {nb};
  return {best, nb / best};
}

Tensor split_heads(Tensor x, int64_t heads) {
  Tensor r = reshape(x, {x.dim(0), x.dim(1), heads, x.dim(2) / heads});
  return transpose(r, {0, 2, 1, 3});
}

Tensor merge_heads(Tensor x) {
  Tensor t = transpose(x, {0, 2, 1, 3});
  return reshape(t, {x.dim(0), x.dim(2), x.dim(1) * x.dim(3)});
}

Tensor unit_length(Tensor x) { return x * rsqrt(sum(x * x, {-1}, true) + kernels::key_norm_epsilon(x.dim(-1))); }

namespace {

constexpr double kMaskedOut = kernels::kAttentionMaskedOut;  // causal and padding masks
constexpr double kSelfMask = kernels::kAttentionSelfMask;    // finite: a token with no other target attends to itself

// Pads the sequence axis (1) of x [B, L, d] up to the config's padded length.
Tensor pad_sequence(Tensor x, const AttentionConfig& config) {
  int64_t extra = config.padded_len() - x.dim(1);
  return extra == 0 ? x : pad(x, 1, 0, extra, 0.0);
}

Tensor unpad_sequence(Tensor x, const AttentionConfig& config) {
  return x.dim(1) == config.seq_len ? x : slice(x, 1, 0, config.seq_len);
}

// Appends to each chunk, along `within_axis`, the previous chunk; chunk 0's
// previous chunk is the last one (wrap-around, as trax's look_adjacent).
Tensor with_previous_chunk(Tensor t, int64_t chunk_axis, int64_t within_axis) {
  int64_t n = t.dim(chunk_axis);
  Tensor previous = n == 1 ? t : concat({slice(t, chunk_axis, n - 1, n), slice(t, chunk_axis, 0, n - 1)}, chunk_axis);
  return concat({t, previous}, within_axis);
}

// Inputs of attention computed chunk by chunk. Slots are positions in
// chunk order: [B, H, N, C, ...]. With ChunkOptions::look_back the keys,
// values and positions of each chunk's predecessor are appended to its window.
struct Chunks {
  Tensor q, k, v;            // [B, H, N, C, dk|dv]
  Tensor position;           // [B, H, N, C] i64: original sequence position of each slot
  Tensor bucket;             // [B, H, N, C] i64 (paper mode only): bucket incl. round offset
  Tensor all_round_buckets;  // [B, H, N, C, R] (paper mode only)
};

struct ChunkOptions {
  bool look_back = true;
  bool causal = true;
  bool mask_self = false;
  bool paper_mode = false;
  int64_t valid_length = 0;  // positions >= this are padding
  double dropout = 0.0;
  AttentionRandomness rng;
};

struct ChunkResult {
  Tensor out;  // [B, H, N, C, dv]
  Tensor lse;  // [B, H, N, C]: logsumexp of each query's logits
};

Tensor window(Tensor t, const ChunkOptions& o) { return o.look_back ? with_previous_chunk(t, 2, 3) : t; }

ChunkResult attend_in_chunks(const Chunks& c, const ChunkOptions& o) {
  Tensor k = window(c.k, o), v = window(c.v, o);
  Tensor logits = matmul(c.q, swap_last_axes(k));  // [B, H, N, C, W]
  Tensor kv_position = window(c.position, o);      // [B, H, N, W]
  Shape s = c.position.shape();
  Tensor q_pos = reshape(c.position, {s[0], s[1], s[2], s[3], 1});
  Tensor kv_pos = reshape(kv_position, {s[0], s[1], s[2], 1, kv_position.dim(3)});
  auto penalty = [&](Tensor mask, double amount) { return cast(mask, logits.dtype()) * amount; };
  if (o.causal) logits = logits - penalty(greater(kv_pos, q_pos), kMaskedOut);
  if (o.mask_self) logits = logits - penalty(equal(kv_pos, q_pos), kSelfMask);
  if (o.valid_length > 0) {
    Tensor limit = full_like(kv_pos, static_cast<double>(o.valid_length));
    logits = logits - penalty(greater_equal(kv_pos, limit), kMaskedOut);
  }
  if (o.paper_mode) {
    Tensor kv_bucket = window(c.bucket, o);
    Tensor q_b = reshape(c.bucket, {s[0], s[1], s[2], s[3], 1});
    Tensor kv_b = reshape(kv_bucket, {s[0], s[1], s[2], 1, kv_bucket.dim(3)});
    logits = logits - penalty(not_equal(kv_b, q_b), kMaskedOut);
    // A key that shares the query's bucket in several rounds counts once:
    // subtract log(number of rounds in which the two collide).
    Tensor kv_rounds = window(c.all_round_buckets, o);  // [B, H, N, W, R]
    int64_t rounds = c.all_round_buckets.dim(4);
    Tensor q_r = reshape(c.all_round_buckets, {s[0], s[1], s[2], s[3], 1, rounds});
    Tensor kv_r = reshape(kv_rounds, {s[0], s[1], s[2], 1, kv_rounds.dim(3), rounds});
    Tensor collisions = sum(cast(equal(q_r, kv_r), logits.dtype()), {-1});
    logits = logits - log(maximum(collisions, full_like(collisions, 1.0)));
  }
  Tensor lse = logsumexp(logits, -1, true);
  Tensor p = exp(logits - lse);
  p = dropout(p, o.dropout, o.rng.key, o.rng.stream + 2);
  Tensor out = matmul(p, v);
  return {out, reshape(lse, s)};
}

Tensor output_projection(Tensor heads_out, const AttentionWeights& w, const AttentionConfig& config) {
  // Summing each head through its slice of W_o == merged heads times W_o.
  return unpad_sequence(linear(merge_heads(heads_out), w.w_o), config);
}

// Positions 0..Lp-1 broadcast to [B, H, Lp].
Tensor positions(Graph& g, int64_t b, int64_t h, int64_t lp) { return iota(g, {b, h, lp}, 2); }

}  // namespace

namespace {

// The hash's random columns per round: f/2 for each bucket factor f.
int64_t hash_columns(const AttentionConfig& config) {
  int64_t columns = 0;
  for (int64_t f : config.bucket_factors()) columns += f / 2;
  return columns;
}

}  // namespace

Tensor hash_rotations(const AttentionRandomness& rng, int64_t heads, int64_t dk, const AttentionConfig& config) {
  // One N(0,1) rotation per head, round and factor column, drawn from the key.
  return random_normal(rng.key, {heads, dk, config.n_hashes * hash_columns(config)}, rng.stream);
}

Tensor hash_queries(Tensor q, Tensor rotations, const AttentionConfig& config) {
  Graph& g = *q.graph;
  int64_t b = q.dim(0), h = q.dim(1), len = q.dim(2), dk = q.dim(3), rounds = config.n_hashes;
  std::vector<int64_t> factors = config.bucket_factors();
  int64_t columns = hash_columns(config);
  // The rotations as R^T q^T, positions innermost ([B, H, R * columns, T];
  // the GEMM reads both transposes in place, and each element is the same
  // sum as in q R): the argmax over a round's columns then compares
  // contiguous rows of positions, in vector lanes, and its result is
  // already [B, H, R, T].
  Tensor rotated =
      matmul(transpose(reshape(rotations, {1, h, dk, rounds * columns}), {0, 1, 3, 2}), transpose(q, {0, 1, 3, 2}));
  rotated = reshape(rotated, {b, h, rounds, columns, len});
  Tensor bucket;
  int64_t offset = 0, radix = 1;
  for (int64_t f : factors) {
    Tensor part = slice(rotated, 3, offset, offset + f / 2);
    Tensor b_f = argmax(concat({part, -part}, 3), 3);  // [B, H, R, T] in [0, f)
    Tensor scaled = radix == 1 ? b_f : b_f * constant(g, static_cast<double>(radix), b_f.type());
    bucket = bucket.valid() ? bucket + scaled : scaled;
    offset += f / 2;
    radix *= f;
  }
  return bucket;
}

Tensor lsh_buckets(Tensor x, Tensor w_q, const AttentionRandomness& rng, const AttentionConfig& config,
                   Tensor valid_length) {
  Graph& g = *x.graph;
  Tensor q = split_heads(linear(pad_sequence(x, config), w_q), config.n_heads);  // [B, H, Lp, dk]
  Tensor rotations = hash_rotations(rng, q.dim(1), q.dim(3), config);
  Tensor bucket = hash_queries(q, rotations, config);  // [B, H, R, Lp]
  if (q.dim(2) != config.seq_len || valid_length.valid()) {
    Tensor limit = valid_length.valid() ? broadcast_to(valid_length, bucket.shape())
                                        : constant(g, static_cast<double>(config.seq_len), bucket.type());
    Tensor padded = greater_equal(iota(g, bucket.shape(), 3), limit);
    bucket = select(padded, constant(g, static_cast<double>(config.buckets()), bucket.type()), bucket);
  }
  return bucket;
}

namespace {

// The decomposed LSH attention of one layer on projected q, v [B, H, Lp, *]
// with the given buckets: sort, chunk, attend, unsort, combine rounds.
// Returns [B, H, Lp, dv]. This is the body of the `lsh_attention` op.
Tensor lsh_attention_core(Tensor q, Tensor v, Tensor buckets, const AttentionRandomness& rng,
                          const AttentionConfig& config) {
  Graph& g = *q.graph;
  int64_t b = q.dim(0), h = q.dim(1), lp = q.dim(2), dk = q.dim(3), dv = v.dim(3);
  int64_t rounds = config.n_hashes, c = config.chunk_len, slots = rounds * lp, n = slots / c;
  int64_t buckets_per_round = config.buckets() + 1;  // + the padding bucket

  // Sort key L*bucket + position over all R*L slots, rounds offset by
  // r*buckets: unique, so the order is deterministic without a stable sort.
  TensorType key_type{DType::i64, {b, h, rounds, lp}};
  Tensor round_offset = iota(g, key_type.shape, 2) * constant(g, static_cast<double>(buckets_per_round), key_type);
  Tensor pos = iota(g, key_type.shape, 3);
  Tensor sort_key =
      reshape((buckets + round_offset) * constant(g, static_cast<double>(lp), key_type) + pos, {b, h, slots});
  Tensor sorted_slots = argsort(sort_key, 2);   // sorted slot -> flat slot (r*Lp + position)
  Tensor undo_sort = argsort(sorted_slots, 2);  // its inverse permutation
  Tensor slot_position = mod(sorted_slots, constant(g, static_cast<double>(lp), sorted_slots.type()));

  auto gather_rows = [&](Tensor t) {  // t [B, H, Lp, w] -> rows in sorted order [B, H, R*Lp, w]
    Shape idx_shape{b, h, slots, t.dim(3)};
    Tensor idx = broadcast_to(reshape(slot_position, {b, h, slots, 1}), idx_shape);
    return gather(t, idx, 2);
  };
  Chunks chunks;
  chunks.q = reshape(gather_rows(q), {b, h, n, c, dk});
  chunks.k = unit_length(chunks.q);  // keys q/|q|: the 1/sqrt(dk) is folded in
  chunks.v = reshape(gather_rows(v), {b, h, n, c, dv});
  chunks.position = reshape(slot_position, {b, h, n, c});
  bool paper = config.attention_mode == AttentionMode::paper;
  if (paper) {
    Tensor sorted_key = gather(sort_key, sorted_slots, 2);
    chunks.bucket =
        reshape(floordiv(sorted_key, constant(g, static_cast<double>(lp), sorted_key.type())), {b, h, n, c});
    Tensor by_position = transpose(buckets + round_offset, {0, 1, 3, 2});  // [B, H, Lp, R]
    chunks.all_round_buckets = reshape(gather_rows(by_position), {b, h, n, c, rounds});
  }
  ChunkOptions options{.look_back = true,
                       .causal = config.causal,
                       .mask_self = true,
                       .paper_mode = paper,
                       .valid_length = lp != config.seq_len ? config.seq_len : 0,
                       .dropout = config.attention_dropout,
                       .rng = rng};
  ChunkResult r = attend_in_chunks(chunks, options);

  // Unsort outputs and logsumexps, then combine the rounds with weights
  // softmax over rounds of the logsumexps.
  Tensor out_sorted = reshape(r.out, {b, h, slots, dv});
  Tensor undo_idx = broadcast_to(reshape(undo_sort, {b, h, slots, 1}), {b, h, slots, dv});
  Tensor out = reshape(gather(out_sorted, undo_idx, 2), {b, h, rounds, lp, dv});
  Tensor lse = reshape(gather(reshape(r.lse, {b, h, slots}), undo_sort, 2), {b, h, rounds, lp});
  Tensor weights = softmax(lse, 2);
  return sum(out * reshape(weights, {b, h, rounds, lp, 1}), {2});  // [B, H, Lp, dv]
}

}  // namespace

Tensor lsh_attention(Tensor x, const AttentionWeights& w, Tensor buckets, const AttentionRandomness& rng,
                     const AttentionConfig& config) {
  Tensor xp = pad_sequence(x, config);
  Tensor q = split_heads(linear(xp, w.w_q), config.n_heads);  // [B, H, Lp, dk]
  Tensor v = split_heads(linear(xp, w.w_v), config.n_heads);  // [B, H, Lp, dv]
  // The core is one `lsh_attention` op whose region is the decomposed
  // reference above; the LSH-fusion pass swaps it for the fused kernel.
  AttrMap attrs;
  attrs.set("chunk_len", config.chunk_len);
  attrs.set("causal", static_cast<int64_t>(config.causal));
  attrs.set("valid_length", config.seq_len);
  attrs.set("buckets_per_round", config.buckets() + 1);
  attrs.set("paper_mode", static_cast<int64_t>(config.attention_mode == AttentionMode::paper));
  attrs.set("dropout", config.attention_dropout);
  attrs.set("stream", rng.stream);
  Tensor combined =
      region_op("lsh_attention", {q, v, buckets, rng.key}, std::move(attrs), [&](Graph&, const std::vector<Tensor>& a) {
        return lsh_attention_core(a[0], a[1], a[2], {a[3], rng.stream}, config);
      });
  return output_projection(combined, w, config);
}

namespace {

// Attention over the chunks of q, k, v [B, H, Lp, d] (positions in
// order): returns [B, H, Lp, dv]. This is the body of the
// `chunked_attention` op.
Tensor attention_core(Graph& g, Tensor q, Tensor k, Tensor v, int64_t chunk, const ChunkOptions& options) {
  int64_t b = q.dim(0), h = q.dim(1), lp = q.dim(2), dk = q.dim(3), dv = v.dim(3), n = lp / chunk;
  Chunks chunks;
  chunks.q = reshape(q, {b, h, n, chunk, dk});
  chunks.k = reshape(k, {b, h, n, chunk, dk});
  chunks.v = reshape(v, {b, h, n, chunk, dv});
  chunks.position = reshape(positions(g, b, h, lp), {b, h, n, chunk});
  return reshape(attend_in_chunks(chunks, options).out, {b, h, lp, dv});
}

// Attention over consecutive chunks of `chunk` positions in sequence order
// (no hashing): each chunk's queries see its keys, and with `look_back`
// the previous chunk's. Keys are k·1/sqrt(dk) with a key projection, or
// q/|q| (shared QK, with the self-mask) without one.
Tensor attention_in_sequence_chunks(Tensor x, const AttentionWeights& w, const AttentionRandomness& rng,
                                    const AttentionConfig& config, int64_t chunk, bool look_back) {
  Tensor xp = pad_sequence(x, config);
  Tensor q = split_heads(linear(xp, w.w_q), config.n_heads);  // [B, H, Lp, dk]
  Tensor v = split_heads(linear(xp, w.w_v), config.n_heads);  // [B, H, Lp, dv]
  const int64_t dk = q.dim(3), lp = q.dim(2);
  Tensor k = w.w_k.valid() ? split_heads(linear(xp, w.w_k), config.n_heads) * (1.0 / std::sqrt(static_cast<double>(dk)))
                           : unit_length(q);
  ChunkOptions options{.look_back = look_back,
                       .causal = config.causal,
                       .mask_self = !w.w_k.valid(),
                       .valid_length = lp != config.seq_len ? config.seq_len : 0,
                       .dropout = config.attention_dropout,
                       .rng = rng};
  // The core is one `chunked_attention` op whose region is the decomposed
  // reference; the attention-fusion pass swaps it for the fused kernel.
  AttrMap attrs;
  attrs.set("chunk_len", chunk);
  attrs.set("look_back", static_cast<int64_t>(look_back));
  attrs.set("causal", static_cast<int64_t>(options.causal));
  attrs.set("mask_self", static_cast<int64_t>(options.mask_self));
  attrs.set("valid_length", options.valid_length);
  attrs.set("dropout", options.dropout);
  attrs.set("stream", rng.stream);
  Tensor out = region_op("chunked_attention", {q, k, v, rng.key}, std::move(attrs),
                         [&](Graph& region, const std::vector<Tensor>& a) {
                           ChunkOptions o = options;
                           o.rng = {a[3], rng.stream};
                           return attention_core(region, a[0], a[1], a[2], chunk, o);
                         });
  return output_projection(out, w, config);
}
}  // namespace

Tensor local_attention(Tensor x, const AttentionWeights& w, const AttentionRandomness& rng,
                       const AttentionConfig& config) {
  return attention_in_sequence_chunks(x, w, rng, config, config.chunk_len, /*look_back=*/true);
}

Tensor full_attention(Tensor x, const AttentionWeights& w, const AttentionRandomness& rng,
                      const AttentionConfig& config) {
  return attention_in_sequence_chunks(x, w, rng, config, config.padded_len(), /*look_back=*/false);
}

}  // namespace reforge
