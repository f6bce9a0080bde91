// The three attention kinds of a Reformer layer, written from primitive
// DSL ops (DESIGN.md §3). The decomposed LSH attention here is the
// reference that the LSH-fusion pass must reproduce.
//
// Shapes: B batch, H heads, L sequence (Lp = L padded to a multiple of the
// chunk length), d model width, dk / dv head widths, R hash rounds,
// C chunk length, N chunks.
#pragma once

#include <cstdint>
#include <vector>

#include "compiler/ir/graph.h"
#include "models/reformer_config.h"

namespace reforge {

// What an attention layer reads: its own small config. A ReformerConfig
// converts to it implicitly (its attention fields), so a Reformer's layers
// pass theirs; another model fills one in.
struct AttentionConfig {
  int64_t seq_len = 64;
  int64_t d_model = 64;
  int64_t n_heads = 2;
  int64_t d_head = 32;  // width of q(k) and v per head
  int64_t n_hashes = 2;
  int64_t chunk_len = 16;
  int64_t n_buckets = 0;  // 0: 2 * padded_len / chunk_len (trax's default)
  bool causal = true;
  AttentionMode attention_mode = AttentionMode::trax;
  double attention_dropout = 0.0;  // on attention probabilities

  AttentionConfig() = default;
  AttentionConfig(const ReformerConfig& c);  // NOLINT: implicit on purpose, the Reformer's view

  int64_t padded_len() const;                   // seq_len rounded up to a multiple of chunk_len
  int64_t buckets() const;                      // n_buckets or its default
  std::vector<int64_t> bucket_factors() const;  // factorisation used for hashing
};

// The projections of one attention layer. w_k is empty for shared-QK
// attention (LSH always shares; local and full use a separate key unless
// asked to share).
struct AttentionWeights {
  Tensor w_q;  // [d, H*dk]
  Tensor w_k;  // [d, H*dk] or empty
  Tensor w_v;  // [d, H*dv]
  Tensor w_o;  // [H*dv, d]
};

// Where randomness comes from: the key input and a per-layer stream base.
struct AttentionRandomness {
  Tensor key;          // i64 scalar, fresh per training step
  int64_t stream = 0;  // distinct per layer; attention uses stream .. stream+3
};

// Head layout: [B, L, H*dh] <-> [B, H, L, dh].
Tensor split_heads(Tensor x, int64_t heads);
Tensor merge_heads(Tensor x);

// Shared-QK keys: x / |x| along the last axis, normalised as trax does
// (attention_constants.h).
Tensor unit_length(Tensor x);

// The random rotations LSH hashes with, [H, dk, R * columns], drawn
// from `rng`'s key and stream (so the same in every graph that draws them).
Tensor hash_rotations(const AttentionRandomness& rng, int64_t heads, int64_t dk, const AttentionConfig& config);

// The LSH buckets of queries q [B, H, T, dk] under `rotations`:
// [B, H, R, T] i64 in [0, n_buckets) (the same for any T, so one position
// hashes as it would in the whole sequence).
Tensor hash_queries(Tensor q, Tensor rotations, const AttentionConfig& config);

// LSH bucket decisions for x [B, L, d] (already layer-normalised):
// [B, H, R, Lp] i64 in [0, n_buckets], where the extra bucket n_buckets
// holds padded positions: those past L, and with `valid_length` (an i64
// scalar) those from it on, so a prefix of the window sorts as it would
// alone. Computed once in the forward pass and reused by any
// recomputation (DESIGN.md §3 point 8).
Tensor lsh_buckets(Tensor x, Tensor w_q, const AttentionRandomness& rng, const AttentionConfig& config,
                   Tensor valid_length = {});

// Shared-QK LSH attention of x [B, L, d] with the given buckets -> [B, L, d].
Tensor lsh_attention(Tensor x, const AttentionWeights& w, Tensor buckets, const AttentionRandomness& rng,
                     const AttentionConfig& config);

// Chunked local attention: each chunk of C positions sees itself and the
// previous chunk (wrapping around, as trax does) -> [B, L, d].
Tensor local_attention(Tensor x, const AttentionWeights& w, const AttentionRandomness& rng,
                       const AttentionConfig& config);

// Ordinary dot-product attention over the whole sequence -> [B, L, d].
// With shared QK (w.w_k empty) keys are q/|q| and a query is masked from
// itself by 1e5, exactly as one LSH round with a single chunk.
Tensor full_attention(Tensor x, const AttentionWeights& w, const AttentionRandomness& rng,
                      const AttentionConfig& config);

}  // namespace reforge
