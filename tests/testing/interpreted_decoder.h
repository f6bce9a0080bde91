// The decode step, its setup and its prefill (models/decode_step.h) under
// the reference interpreter in f64: what the compiled decode paths and
// the whole-window forward pass are compared with.
#pragma once

#include <cstdint>
#include <vector>

#include "compiler/interpreter/interpreter.h"
#include "models/decode_step.h"
#include "models/reformer_config.h"
#include "runtime/generation.h"

namespace reforge::testing {

class InterpretedDecoder {
 public:
  // `params` by name (the forward graph's initial values, say).
  InterpretedDecoder(const ReformerConfig& config, const ValueMap& params);

  // The logits [vocab] after `token` at `position`; the caches updated.
  std::vector<double> step(int64_t token, int64_t position);
  // Reads tokens[0..n) in one whole-window pass: every cache from the
  // prefill's outputs (an Error if it lacks one), whatever they held
  // before; the logits after the last.
  std::vector<double> prefill(const std::vector<int64_t>& tokens, int64_t n);
  // Empty caches, fixed state from the setup.
  void clear();
  // For a runtime::StepDecoder: step and clear, and prefill if asked.
  runtime::DecodeFunctions functions(bool with_prefill);

  const DecodeStep& decode() const { return step_; }

 private:
  ReformerConfig config_;
  DecodeStep step_;
  ValueMap params_, state_;
};

}  // namespace reforge::testing
