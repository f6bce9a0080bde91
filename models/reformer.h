// The Reformer language model (and, with attention = full and
// reversible = false, the Transformer baseline) built in the DSL.
//
// Inputs: tokens [B, L] i64, targets [B, L] i64, loss_weights [B, L] f32
// (which predictions count), rng i64 scalar (hash rotations and dropout;
// fresh per training step, fixed in evaluation).
#pragma once

#include <source_location>

#include "compiler/ir/graph.h"
#include "models/reformer_config.h"
#include "models/reformer_layers.h"

namespace reforge {

struct ReformerModel {
  Tensor tokens, targets, loss_weights, rng;
  Tensor valid_length;  // i64 scalar, with ReformerBuild::valid_length_input
  Tensor logits;        // [B, L, vocab]
  Tensor loss;          // weighted mean next-token cross-entropy (nats)
  Tensor accuracy;      // weighted fraction of argmax predictions equal to targets
};

// What the graph is built for. With valid_length_input the model takes an
// input "valid_length" (i64 scalar): positions from it on are padding, put
// in the padding bucket of every LSH round, so a prefix of the window
// hashes and sorts as if it stood alone (what generation decodes).
struct ReformerBuild {
  bool valid_length_input = false;
  // Also output each attention layer's decode caches over the valid
  // prefix (models/decode_caches.h: a prefill; one sequence, with
  // valid_length_input).
  bool decode_caches = false;
  // false: logits only, without the inputs "targets" and "loss_weights"
  // and the loss and accuracy they feed (a prefill's graph).
  bool loss = true;
};

// Validates the config (reforge::Error on a bad one) and builds the model
// into `graph`, with parameters under the scopes "embed", "layer<i>.*" and
// "head".
ReformerModel build_reformer(Graph& graph, const ReformerConfig& config, const ReformerBuild& build = {});

// The embedding layer alone: its token table [vocab, d] and the embedded
// sequence, token embedding plus axial positions, [B, L, d].
struct Embedding {
  Tensor table, x;
};
Embedding embed_tokens(Graph& graph, Tensor tokens, const EmbeddingConfig& config,
                       std::source_location loc = std::source_location::current());

}  // namespace reforge
