#include "models/blocks/feed_forward.h"

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "models/blocks/captures.h"

namespace reforge {

FeedForwardConfig feed_forward_config(const ReformerConfig& c) {
  return {
      .d_model = c.d_model, .d_ff = c.d_ff, .activation = c.ff_activation, .gated = c.ff_gated, .chunks = c.ff_chunks};
}

FeedForwardParams make_feed_forward(Graph& g, const FeedForwardConfig& c, std::source_location loc) {
  auto call = called_from(loc);
  auto scope = g.scope("ff");
  const double in_scale = 1.0 / std::sqrt(static_cast<double>(c.d_model));
  FeedForwardParams p;
  p.norm = make_layer_norm(g, c.d_model);
  p.w1 = g.param("w1", {c.d_model, c.d_ff}, Init::normal(in_scale));
  p.b1 = g.param("b1", {c.d_ff}, Init::zeros());
  p.w2 = g.param("w2", {c.d_ff, c.d_model}, Init::normal(1.0 / std::sqrt(static_cast<double>(c.d_ff))));
  p.b2 = g.param("b2", {c.d_model}, Init::zeros());
  if (c.gated) {
    p.w_gate = g.param("w_gate", {c.d_model, c.d_ff}, Init::normal(in_scale));
    p.b_gate = g.param("b_gate", {c.d_ff}, Init::zeros());
  }
  return p;
}

Tensor feed_forward_body(Tensor x, const FeedForwardParams& p, const FeedForwardConfig& c, std::source_location loc) {
  auto call = called_from(loc);
  Tensor normed = normalize(x, p.norm);
  Tensor h = linear(normed, p.w1) + p.b1;
  h = c.activation == "relu" ? relu(h) : gelu(h);
  if (c.gated) h = h * (linear(normed, p.w_gate) + p.b_gate);
  return linear(h, p.w2) + p.b2;
}

Tensor chunked_feed_forward(Tensor x, const FeedForwardParams& p, const FeedForwardConfig& c,
                            std::source_location loc) {
  auto call = called_from(loc);
  // One chunk is the body itself: a block that stores its activations
  // then keeps the feed-forward's too (its gradient reads them), where
  // a one-chunk map recomputed the first product and the activation in
  // the backward. More chunks recompute each chunk's inside its gradient:
  // the intermediate [L, d_ff] never lives across the step.
  if (c.chunks == 1) return feed_forward_body(x, p, c);
  int64_t len = x.dim(1), chunks = c.chunks;
  int64_t padded = (len + chunks - 1) / chunks * chunks;
  Tensor xp = padded == len ? x : pad(x, 1, 0, padded - len, 0.0);
  Tensor y = chunked_map({xp}, pack(p), 1, chunks, [&c, &p](Graph&, const std::vector<Tensor>& a) {
    return feed_forward_body(a[0], unpack(p, a, 1), c);
  });
  return padded == len ? y : slice(y, 1, 0, len);
}

}  // namespace reforge
