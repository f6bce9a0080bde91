// Output heads and their losses: what turns a stack's states into a
// task's predictions. The language model's head (tied or projected
// logits per position) is lm_head in models/reformer_layers.h.
#pragma once

#include <cstdint>

#include "compiler/ir/graph.h"

namespace reforge {

// A sequence classifier's head on h [B, L, w], under the current scope:
// layer norm, attention pooling (a learned score per position,
// softmax over the sequence, the states' weighted sum) so that a few
// decisive positions of a long sequence are not averaged away, then
// logits [B, classes]. Parameters: norm.gamma, norm.beta, pool [w, 1],
// w [w, classes], b [classes].
Tensor pooled_classifier(Graph& g, Tensor h, int64_t classes);

struct LossAndAccuracy {
  Tensor loss, accuracy;
};

// The weighted mean cross-entropy of logits [..., V] against integer
// targets [...] with weights [...] (which predictions count), and the
// weighted fraction of argmax predictions equal to the targets. With
// replicas > 1 (data parallelism) the sums run over the replicas'
// rows as well, so each replica's loss is its share of the whole batch's.
LossAndAccuracy weighted_cross_entropy(Tensor logits, Tensor targets, Tensor weights, int64_t replicas);

}  // namespace reforge
