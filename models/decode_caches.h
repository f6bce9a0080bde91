// The decode step's caches (models/decode_step.h) as the whole-window
// forward pass fills them: a prefill. A layer's caches are outputs named
// as the decode step's state ("<layer>.attn.cache.k", ...), with the same
// layouts, computed from the layer's normalised input over the window's
// valid prefix; a runner copies them into the step's slots and goes on
// one token at a time.
//
// Layouts (L = seq_len positions; H heads; R rounds; nb buckets):
//   k       [1, H, dk, L, 1]  keys, transposed (unit-length q for shared QK)
//   v       [1, H, L, dv]     values
//   bucket  [1, H, R, L, 1]   i64, LSH only
//   rank    [1, H, R, L, 1]   i64, LSH only: earlier positions of its bucket
//   counts  [1, H, R, nb]     i64, LSH only: positions in each bucket
// Past the valid prefix, keys and values hold whatever the padding gave
// and buckets and ranks are 0; the step masks those positions (from its
// own on) and overwrites each row as it comes.
#pragma once

#include <string>

#include "compiler/ir/graph.h"
#include "models/attention.h"
#include "models/reformer_config.h"

namespace reforge {

// How many positions sort before each bucket of a round: bucket counts
// [..., nb] (i64) summed over the buckets below each, [..., nb] i64. A
// product with a strictly upper triangular matrix of ones, exact in
// floating point for any count a window holds. The prefill and the decode
// step both find sorted indices from it.
Tensor positions_before_buckets(Tensor counts);

// Outputs `prefix` + "cache.k", ... for one attention layer of a
// one-sequence graph: `normed` [1, L, d] its normalised input, `buckets`
// [1, H, R, Lp] its LSH buckets (LSH only; the padding bucket from
// `valid_length` on), `valid_length` the prefix's length (i64 scalar).
void output_prefill_caches(Graph& graph, const std::string& prefix, Tensor normed, const AttentionWeights& w,
                           AttentionKind kind, Tensor buckets, Tensor valid_length, const ReformerConfig& config);

}  // namespace reforge
