// Sampling text from a trained byte-level model with its compiled forward
// pass: each new byte is one forward pass over the last seq_len bytes
// (causal, so the prediction at the last real position sees only the
// context); nothing is recompiled per byte.
#pragma once

#include <cstdint>
#include <functional>
#include <string>

#include "compiler/interpreter/interpreter.h"
#include "models/reformer_config.h"
#include "runtime/sampling.h"

namespace reforge::training {

// A forward pass: inputs (tokens, targets, loss_weights, rng) -> outputs
// with "logits".
using ForwardPass = std::function<ValueMap(const ValueMap&)>;

// The `length` bytes that follow `prompt`; reproducible from `seed`.
std::string generate_text(const ForwardPass& forward, const ReformerConfig& config, const std::string& prompt,
                          int64_t length, const runtime::SamplingOptions& sampling, uint64_t seed);

// Bytes as they can be shown on one line of a terminal or a page:
// printable ASCII kept, newlines as "⏎" where asked, others as "\xNN".
std::string printable(const std::string& bytes, bool keep_newlines);

}  // namespace reforge::training
