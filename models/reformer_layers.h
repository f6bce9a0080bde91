// The parameters and position-wise pieces of a Reformer layer, shared by
// the whole-sequence model (reformer.cc) and the one-token decode step
// (decode_step.cc): both create their parameters here, so the two graphs
// name and shape them alike and one checkpoint feeds either.
#pragma once

#include <source_location>

#include "compiler/ir/graph.h"
#include "models/attention.h"
#include "models/reformer_config.h"

namespace reforge {

// Streams of the counter-based generator, per layer: layer i's base is
// i * kRandomStreamsPerLayer; attention uses base .. base+3 (the hash
// rotations at base), residual dropouts base+4 and base+5.
inline constexpr int64_t kRandomStreamsPerLayer = 8;

struct LayerNormParams {
  Tensor gamma, beta;
};

// "norm.gamma" and "norm.beta" in the graph's current scope.
LayerNormParams make_layer_norm(Graph& g, int64_t width);
Tensor normalize(Tensor x, const LayerNormParams& p);

// w_q, w_k (local and full attention only), w_v and w_o in the current scope.
AttentionWeights make_attention_weights(Graph& g, const AttentionConfig& c, AttentionKind kind);

// What the token and position embedding reads: its own small config, which
// a ReformerConfig converts to implicitly. Axial positions: sequence
// positions (i, j) of an R x C grid get concat(rows[i], cols[j]); zeros
// mean "choose": C = ceil(sqrt(L)), widths d/2.
struct EmbeddingConfig {
  int64_t vocab_size = 256;
  int64_t d_model = 64;
  int64_t seq_len = 64;
  int64_t axial_rows = 0;
  int64_t axial_cols = 0;
  int64_t axial_row_width = 0;

  EmbeddingConfig() = default;
  EmbeddingConfig(const ReformerConfig& c);  // NOLINT: implicit on purpose, the Reformer's view

  int64_t axial_rows_resolved() const;
  int64_t axial_cols_resolved() const;
  int64_t axial_row_width_resolved() const;
};

// The axial position table's parameters (scope "axial": "rows" [R, 1, w1]
// and "cols" [1, C, w2]).
struct AxialPositions {
  Tensor rows, cols;
};
AxialPositions make_axial_positions(Graph& g, const EmbeddingConfig& c);

// Every position's embedding, [L, d]: position i*C + j gets rows[i] ++ cols[j].
Tensor axial_table(const AxialPositions& p, const EmbeddingConfig& c);

// The embedding of the positions `position` (i64, any shape S) -> [S..., d].
Tensor axial_at(const AxialPositions& p, Tensor position, const EmbeddingConfig& c);

// What the language-model head reads (a ReformerConfig converts to it).
struct LmHeadConfig {
  int64_t vocab_size = 256;
  int64_t d_model = 64;
  bool tied_embedding = false;  // score against the token table

  LmHeadConfig() = default;
  LmHeadConfig(const ReformerConfig& c);  // NOLINT: implicit on purpose, the Reformer's view
};

// The language-model head under the current scope ("head"): layer norm of
// h [..., w] (w = d, or 2d for the two reversible streams), then logits
// [..., vocab] against the token table (tied) or its own projection.
Tensor lm_head(Graph& g, Tensor h, Tensor token_table, const LmHeadConfig& c,
               std::source_location loc = std::source_location::current());

}  // namespace reforge
