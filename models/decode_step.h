// The one-token decode step of a causal Reformer LM: generation with a
// cache. It takes the symbol at `position` and returns the logits of the
// next, reading and updating per-layer caches (graph `state` nodes carried
// from step to step, like the optimizer's moments in a training step), so
// a step's work does not depend on how much context came before.
//
// What a layer caches (window L = seq_len positions):
//   LSH    its shared-QK keys (unit length) and values, and per round each
//          position's bucket and its index in the round's sorted order;
//   local  its keys and values (the query's chunk and the one before it
//          are read back);
//   full   its keys and values.
// The new position's LSH window is found from the cached sorted indices,
// not by sorting again: it is the last of its bucket, so it goes in after
// every earlier position of a bucket at most its own, and those of higher
// buckets move up by one. It then attends over exactly the keys the
// training-time layer lets that position see in the window's prefix
// (its chunk and the one before it in the flat sorted order, with the
// same wrap-around, duplicates counted as often, self-mask and round
// combination as in training).
//
// Exactness: a position's logits equal those of the whole-window forward
// pass over the same prefix (build_reformer_eval_graph with a valid_length
// input) when no layer reads the outputs of an earlier LSH layer: any
// depth of local and full attention, with at most the last layer LSH.
// Past an LSH layer the two part, and no cache can avoid it: a new token
// re-chunks the sorted order of the earlier positions, so the whole-window
// pass recomputes their LSH outputs, while a cache keeps each position's
// states from when it was the newest (as trax's and HuggingFace's caches
// do). tests/models/decode_step_test pins both down.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compiler/autodiff/training_step.h"
#include "compiler/ir/graph.h"
#include "models/reformer_config.h"

namespace reforge {

struct DecodeStep {
  // Inputs "token" [1, 1] i64, "position" (i64 scalar, 0 .. seq_len-1),
  // "rng" (i64 scalar, as the forward pass's); output "logits" [1, vocab];
  // the model's parameters by the training graph's names; the caches as
  // state nodes "<layer>.attn.cache.*", zero before the first position.
  std::unique_ptr<Graph> graph;
  // Each cache and the output that holds its next value.
  std::vector<CarriedValue> caches;
};

// An Error when the model cannot decode one token at a time (not causal,
// or the paper's attention mode), naming the setting.
DecodeStep build_reformer_decode_step(const ReformerConfig& config, const std::string& name = "reformer",
                                      DType float_type = DType::f32);

}  // namespace reforge
