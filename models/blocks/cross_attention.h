// Cross-attention: queries from one sequence (a decoder's states), keys and
// values from another (an encoder's output, the "memory"), every query
// seeing every memory position. The encoder-decoder's bridge; its cost is
// O(L_query x L_memory), which the decoder pays once per layer.
#pragma once

#include <cstdint>
#include <source_location>

#include "compiler/ir/graph.h"
#include "models/reformer_layers.h"

namespace reforge {

struct CrossAttentionConfig {
  int64_t d_model = 0;       // the query side's width
  int64_t memory_width = 0;  // the memory's width
  int64_t heads = 1;
  int64_t d_head = 0;
};

struct CrossAttentionParams {
  LayerNormParams norm;  // of the queries' input
  Tensor w_q, w_k, w_v, w_o;

  template <typename Visit>
  void fields(Visit visit) {
    visit(norm.gamma);
    visit(norm.beta);
    visit(w_q);
    visit(w_k);
    visit(w_v);
    visit(w_o);
  }
};

// Parameters under the scope "cross": norm.gamma, norm.beta, w_q [d, H*dk],
// w_k and w_v [memory_width, H*dk], w_o [H*dk, d].
CrossAttentionParams make_cross_attention(Graph& g, const CrossAttentionConfig& config,
                                          std::source_location loc = std::source_location::current());

// x [B, Lq, d] attends over memory [B, Lm, memory_width] -> [B, Lq, d]:
// softmax(q k^T / sqrt(dk)) v per head, q from layer_norm(x).
Tensor cross_attention(Tensor x, Tensor memory, const CrossAttentionParams& p, const CrossAttentionConfig& config,
                       std::source_location loc = std::source_location::current());

}  // namespace reforge
