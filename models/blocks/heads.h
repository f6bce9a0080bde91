// Output heads and their losses: what turns a stack's states into a
// task's predictions. The language model's head (tied or projected
// logits per position) is lm_head in models/reformer_layers.h.
#pragma once

#include <cstdint>
#include <source_location>

#include "compiler/ir/graph.h"

namespace reforge {

// A sequence classifier's head on h [B, L, w], under the current scope:
// layer norm, the mean over the sequence, then logits [B, classes].
// Parameters: norm.gamma, norm.beta, w [w, classes], b [classes].
// A mean, not a max: with a mean the logits are a sum over positions, so
// a label that relates far-apart tokens must be learnt by the attention
// (a max computes "does any position show this", which answers questions
// such as "are two symbols equal" from the symbols present alone).
Tensor pooled_classifier(Graph& g, Tensor h, int64_t classes,
                         std::source_location loc = std::source_location::current());

struct LossAndAccuracy {
  Tensor loss, accuracy;
};

// The weighted mean cross-entropy of logits [..., V] against integer
// targets [...] with weights [...] (which predictions count), and the
// weighted fraction of argmax predictions equal to the targets. With
// replicas > 1 (data parallelism) the sums run over the replicas'
// rows as well, so each replica's loss is its share of the whole batch's.
LossAndAccuracy weighted_cross_entropy(Tensor logits, Tensor targets, Tensor weights, int64_t replicas,
                                       std::source_location loc = std::source_location::current());

}  // namespace reforge
