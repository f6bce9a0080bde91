// Pass: LSH-attention fusion. Replaces each `lsh_attention` op (whose
// region is the decomposed reference: sort, gathers, chunked logits,
// unsort, round combination) by `lsh_attention_fused`, one kernel whose
// forward works chunk by chunk and whose gradient recomputes each chunk's
// logits instead of storing them. Runs before autodiff, inside regions too
// (attention lives in the F region of reversible blocks). Configurations
// the fused kernel does not support (paper mode, attention dropout) stay
// decomposed.
//
// The same pass fuses the other attentions of the family:
// `chunked_attention` (local attention, each chunk with the previous one,
// and full attention, one chunk of the whole sequence) becomes
// `chunked_attention_fused`, flash-attention style: one tile of logits
// at a time, so full attention never holds L x L values. Without
// attention dropout only.
#pragma once

#include <memory>

#include "compiler/ir/graph.h"

namespace reforge {

// `fused` (optional) receives the number of ops fused (LSH and chunked).
std::unique_ptr<Graph> fuse_lsh_attention(const Graph& graph, int* fused = nullptr);

}  // namespace reforge
