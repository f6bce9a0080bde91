#include "models/blocks/cross_attention.h"

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "models/attention.h"

namespace reforge {

CrossAttentionParams make_cross_attention(Graph& g, const CrossAttentionConfig& c, std::source_location loc) {
  auto call = called_from(loc);
  auto scope = g.scope("cross");
  const int64_t inner = c.heads * c.d_head;
  CrossAttentionParams p;
  p.norm = make_layer_norm(g, c.d_model);
  p.w_q = g.param("w_q", {c.d_model, inner}, Init::normal(1.0 / std::sqrt(static_cast<double>(c.d_model))));
  p.w_k = g.param("w_k", {c.memory_width, inner}, Init::normal(1.0 / std::sqrt(static_cast<double>(c.memory_width))));
  p.w_v = g.param("w_v", {c.memory_width, inner}, Init::normal(1.0 / std::sqrt(static_cast<double>(c.memory_width))));
  p.w_o = g.param("w_o", {inner, c.d_model}, Init::normal(1.0 / std::sqrt(static_cast<double>(inner))));
  return p;
}

Tensor cross_attention(Tensor x, Tensor memory, const CrossAttentionParams& p, const CrossAttentionConfig& c,
                       std::source_location loc) {
  auto call = called_from(loc);
  Tensor q = split_heads(linear(normalize(x, p.norm), p.w_q), c.heads);  // [B, H, Lq, dk]
  Tensor k = split_heads(linear(memory, p.w_k), c.heads);                // [B, H, Lm, dk]
  Tensor v = split_heads(linear(memory, p.w_v), c.heads);
  Tensor scores = matmul(q, swap_last_axes(k)) * (1.0 / std::sqrt(static_cast<double>(c.d_head)));
  return linear(merge_heads(matmul(softmax(scores, -1), v)), p.w_o);
}

}  // namespace reforge
