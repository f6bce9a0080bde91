// Sampling text from a trained causal model, symbol by symbol, through a
// Decoder: the model seen as "give me the logits after this context".
// Two decoders: ForwardDecoder runs the whole window's forward pass for
// each symbol (what generation did before caches, kept for comparison),
// StepDecoder runs a one-token step that reads and updates caches
// (models/decode_step.h), so a symbol costs the same at any position.
//
// The window: a context holds at most window() symbols. When it is full
// and one more symbol is needed, the context keeps its last half and the
// decoder re-reads it from an empty cache; both decoders do so, so for
// every model where the cached step is exact they generate the same text.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compiler/interpreter/interpreter.h"
#include "models/reformer_config.h"
#include "runtime/sampling.h"

namespace reforge::training {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // The longest context it reads (the model's seq_len).
  virtual int64_t window() const = 0;
  // Forgets the context.
  virtual void reset() = 0;
  // The context grows by `symbol` (to at most window() symbols).
  virtual void append(int64_t symbol) = 0;
  // The logits of the symbol after the context (which is not empty).
  virtual std::vector<double> next_logits() = 0;
};

// A forward pass: inputs (tokens, targets, loss_weights, rng and, where
// the graph takes it, valid_length) -> outputs with "logits".
using ForwardPass = std::function<ValueMap(const ValueMap&)>;

class ForwardDecoder : public Decoder {
 public:
  // `feeds_valid_length`: the forward pass takes "valid_length", so the
  // window's padding neither hashes nor sorts among the context.
  ForwardDecoder(ForwardPass forward, const ReformerConfig& config, bool feeds_valid_length);
  int64_t window() const override { return config_.seq_len; }
  void reset() override { context_.clear(); }
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

// One token's step: the logits after `symbol` at `position`, the caches
// updated; and how the caches are emptied.
struct DecodeFunctions {
  std::function<std::vector<double>(int64_t symbol, int64_t position)> step;
  std::function<void()> clear;
};

class StepDecoder : public Decoder {
 public:
  StepDecoder(DecodeFunctions functions, int64_t window);
  int64_t window() const override { return window_; }
  void reset() override;
  void append(int64_t symbol) override;
  std::vector<double> next_logits() override;
  int64_t steps() const { return steps_; }  // one-token steps run so far

 private:
  DecodeFunctions functions_;
  int64_t window_;
  int64_t length_ = 0;
  std::vector<double> logits_;
  int64_t steps_ = 0;
};

// The `length` bytes that follow `prompt` (1 to window() bytes; an Error
// otherwise), reproducible from `seed`; `on_byte` sees each as it comes.
std::string generate_text(Decoder& decoder, const std::string& prompt, int64_t length,
                          const runtime::SamplingOptions& sampling, uint64_t seed,
                          const std::function<void(char)>& on_byte = {});

// Bytes as they can be shown on one line of a terminal or a page:
// printable ASCII kept, newlines as "⏎" where asked, others as "\xNN".
std::string printable(const std::string& bytes, bool keep_newlines);

}  // namespace reforge::training
