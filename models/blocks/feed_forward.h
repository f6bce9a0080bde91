// The position-wise feed-forward block: layer norm, a dense layer to d_ff,
// an activation (optionally gated: the GLU family), a dense layer back,
// run over the sequence in chunks so that the d_ff-wide intermediate
// exists for one chunk at a time (the feed-forward chunking of the paper,
// §3). The chunks are a chunked_map region, which the memory planner sees
// as one chunk's working set.
#pragma once

#include <cstdint>
#include <source_location>
#include <string>

#include "compiler/ir/graph.h"
#include "models/reformer_config.h"
#include "models/reformer_layers.h"

namespace reforge {

struct FeedForwardConfig {
  int64_t d_model = 0;
  int64_t d_ff = 0;
  std::string activation = "gelu";  // gelu | relu
  // Gated: act(x W1 + b1) * (x Wg + bg) before W2 (GEGLU with gelu,
  // ReGLU with relu; Shazeer, "GLU variants improve Transformer", 2020).
  bool gated = false;
  int64_t chunks = 1;  // sequence chunks (axis 1)
};

// The feed-forward a Reformer layer of `config` runs.
FeedForwardConfig feed_forward_config(const ReformerConfig& config);

struct FeedForwardParams {
  LayerNormParams norm;
  Tensor w1, b1, w2, b2;
  Tensor w_gate, b_gate;  // gated only

  // Its tensors in one fixed order (region captures walk this list; the
  // absent gate is skipped).
  template <typename Visit>
  void fields(Visit visit) {
    visit(norm.gamma);
    visit(norm.beta);
    visit(w1);
    visit(b1);
    visit(w2);
    visit(b2);
    visit(w_gate);
    visit(b_gate);
  }
};

// The parameters under the scope "ff": norm.gamma, norm.beta, w1 [d, d_ff],
// b1, w2 [d_ff, d], b2, and gated w_gate [d, d_ff], b_gate.
FeedForwardParams make_feed_forward(Graph& g, const FeedForwardConfig& config,
                                    std::source_location loc = std::source_location::current());

// The block on x [..., d], position by position, in one piece.
Tensor feed_forward_body(Tensor x, const FeedForwardParams& p, const FeedForwardConfig& config,
                         std::source_location loc = std::source_location::current());

// The block on x [B, L, d] in config.chunks sequence chunks (a chunked
// map: each chunk's inside is recomputed in its gradient; one chunk is
// the body, whose activations the gradient keeps). A chunk count that
// does not divide L pads the sequence (position-wise, so padding changes
// nothing) and slices the result back.
Tensor chunked_feed_forward(Tensor x, const FeedForwardParams& p, const FeedForwardConfig& config,
                            std::source_location loc = std::source_location::current());

}  // namespace reforge
