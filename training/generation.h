// The whole-window forward pass as a runtime::Decoder: one pass over the
// context for each symbol (what generation did before caches; `reforge
// generate --no_cache`, and the training loop's samples). The generation
// loop, the window's policy and the cached decoder are the runtime's
// (runtime/generation.h).
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compiler/interpreter/interpreter.h"
#include "models/reformer_config.h"
#include "runtime/generation.h"

namespace reforge::training {

// A forward pass: inputs (tokens, targets, loss_weights, rng and, where
// the graph takes it, valid_length) -> outputs with "logits".
using ForwardPass = std::function<ValueMap(const ValueMap&)>;

class ForwardDecoder : public runtime::Decoder {
 public:
  // `feeds_valid_length`: the forward pass takes "valid_length", so the
  // window's padding neither hashes nor sorts among the context.
  ForwardDecoder(ForwardPass forward, const ReformerConfig& config, bool feeds_valid_length);
  int64_t window() const override { return config_.seq_len; }
  void start(const std::vector<int64_t>& context) override { context_ = context; }
  void append(int64_t symbol) override;
  std::vector<double> next_logits() override;
  int64_t passes() const { return passes_; }  // forward passes run so far

 private:
  ForwardPass forward_;
  ReformerConfig config_;
  bool feeds_valid_length_;
  std::vector<int64_t> context_;
  int64_t passes_ = 0;
};

}  // namespace reforge::training
