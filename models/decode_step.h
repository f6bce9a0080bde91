// The one-token decode step of a causal Reformer LM: generation with a
// cache. It takes the symbol at `position` and returns the logits of the
// next, reading and updating per-layer caches (graph `state` nodes carried
// from step to step, like the optimizer's moments in a training step), so
// a step's work does not depend on how much context came before.
//
// What a layer caches (window L = seq_len positions):
//   LSH    its shared-QK keys (unit length) and values, and per round each
//          position's bucket, its rank in its bucket, and every bucket's
//          count;
//   local  its keys and values (the query's chunk and the one before it
//          are read back);
//   full   its keys and values.
// The new position's LSH window is found from the counts, not by sorting
// again: a position's index in a round's sorted order is the count of the
// buckets below its own plus its rank in its bucket (it is the last of its
// bucket when it comes, and no later position sorts before it there). It then attends over exactly the keys the
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

#include "compiler/interpreter/interpreter.h"
#include "compiler/ir/graph.h"
#include "models/reformer_config.h"
#include "runtime/artifact.h"

namespace reforge {

struct DecodeStep {
  // Inputs "token" [1, 1] i64 and "position" (i64 scalar, 0 .. seq_len-1);
  // output "logits" [1, vocab]; the model's parameters by the training
  // graph's names; the caches as state nodes "<layer>.attn.cache.*", zero
  // before the first position.
  std::unique_ptr<Graph> graph;
  // How a step's outputs update the caches, as an artifact's entry point
  // says it: `carried` outputs are a cache's next value (an LSH layer's
  // bucket counts); `carried_rows` outputs [..., 1, w] are the cache's row
  // at this position (runtime::carry_decode_updates), so a step writes
  // O(w), not the whole cache. `next` is the output, `slot` the cache.
  std::vector<runtime::CarriedSlot> carried, carried_rows;
  // What the step reads but never changes, computed once: input "rng"
  // (the forward pass's, 0 in generation), one output per fixed state of
  // the step, named as it ("<layer>.attn.hash.rotations": the LSH hash's
  // random rotations, which the forward pass draws on every run).
  std::unique_ptr<Graph> setup;
  // The whole-window forward pass over a prefix that outputs every cache
  // (models/decode_caches.h) and "logits" [1, L, vocab]: a prompt, or the
  // context kept at the window's edge, read in one pass instead of one
  // step per token. Inputs "tokens" [1, L], "rng" and "valid_length",
  // the prefix's length.
  std::unique_ptr<Graph> prefill;
};

// Why `config` cannot decode one token at a time with caches (not the
// reformer-lm architecture, not causal, or the paper's attention mode),
// naming the setting; "" when it can.
std::string why_no_decode_step(const ReformerConfig& config);

// An Error with why_no_decode_step's reason when the model cannot decode.
DecodeStep build_reformer_decode_step(const ReformerConfig& config, const std::string& name = "reformer",
                                      DType float_type = DType::f32);

// The reference path (the interpreter's values): the setup's outputs
// (state values for the step), and the caches in `state` updated from a
// step's `outputs` at `position`.
ValueMap run_decode_setup(const DecodeStep& step, int64_t rng = 0);
void update_caches(const DecodeStep& step, const ValueMap& outputs, int64_t position, ValueMap& state);

}  // namespace reforge
