// The Reformer language model (and, with attention = full and
// reversible = false, the Transformer baseline) built in the DSL.
//
// Inputs: tokens [B, L] i64, targets [B, L] i64, loss_weights [B, L] f32
// (which predictions count), rng i64 scalar (hash rotations and dropout;
// fresh per training step, fixed in evaluation).
#pragma once

#include "compiler/ir/graph.h"
#include "models/reformer_config.h"

namespace reforge {

struct ReformerModel {
  Tensor tokens, targets, loss_weights, rng;
  Tensor logits;    // [B, L, vocab]
  Tensor loss;      // weighted mean next-token cross-entropy (nats)
  Tensor accuracy;  // weighted fraction of argmax predictions equal to targets
};

// Validates the config (reforge::Error on a bad one) and builds the model
// into `graph`, with parameters under the scopes "embed", "layer<i>.*" and
// "head".
ReformerModel build_reformer(Graph& graph, const ReformerConfig& config);

// The embedding layer alone: its token table [vocab, d] and the embedded
// sequence, token embedding plus axial positions, [B, L, d].
struct Embedding {
  Tensor table, x;
};
Embedding embed_tokens(Graph& graph, Tensor tokens, const ReformerConfig& config);

}  // namespace reforge
