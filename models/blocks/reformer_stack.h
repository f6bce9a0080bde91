// The Reformer's layer stack as one block: n_layers layers, each an
// attention sublayer (LSH, local or full, per the config's pattern) and a
// chunked feed-forward (models/blocks/feed_forward.h), either as
// reversible two-stream blocks (the `reversible` op, which the reversible
// recompute pass rebuilds in the backward) or as standard pre-norm
// residual layers. Language models, classifiers and encoder-decoders
// (with cross-attention to a memory) stack it alike.
#pragma once

#include <source_location>
#include <string>

#include "compiler/ir/graph.h"
#include "models/reformer_config.h"

namespace reforge {

struct StackInputs {
  Tensor rng;  // i64 scalar: hash rotations and dropout
  // Optional i64 scalar: positions from it on are padding in every LSH
  // round (ReformerBuild::valid_length_input).
  Tensor valid_length;
  // Also output each layer's decode caches (a prefill; models/decode_caches.h).
  bool decode_caches = false;
  // Parameters under "<scope><i>.*": "layer" gives layer0, layer1, ...
  std::string scope = "layer";
  // The first layer's random streams start at first_layer *
  // kRandomStreamsPerLayer (a second stack in one graph draws its own).
  int64_t first_layer = 0;
  // Optional [B, Lm, w]: an encoder's output that every layer also
  // attends to (a decoder's stack). The attention branch is then
  // a + cross_attention(x + a, memory), a the self-attention of x.
  Tensor memory;
};

// The stack on x [B, L, d] -> its output [B, L, 2d] (both reversible
// streams, side by side) or [B, L, d] (the residual stream).
Tensor reformer_stack(Graph& g, Tensor x, const ReformerConfig& config, const StackInputs& inputs,
                      std::source_location loc = std::source_location::current());

}  // namespace reforge
