// Sampling text from a causal model, symbol by symbol, through a Decoder:
// the model seen as "give me the logits after this context". The
// runtime's Model decodes with its compiled one-token step (StepDecoder
// over Model::decode); the compiler's tools add a decoder that runs the
// whole window's forward pass per symbol (training/generation.h).
//
// The window: a context holds at most window() symbols. When it is full
// and one more symbol is needed, the context keeps its last half and the
// decoder starts again from it (a re-prefill); every decoder does so, so
// for every model where the cached step is exact they all generate the
// same text.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "runtime/sampling.h"

namespace reforge::runtime {

class Decoder {
 public:
  virtual ~Decoder() = default;
  // The longest context it reads (the model's seq_len).
  virtual int64_t window() const = 0;
  // Forgets the context and reads `context` (1 to window() symbols).
  virtual void start(const std::vector<int64_t>& context) = 0;
  // The context grows by `symbol` (to at most window() symbols).
  virtual void append(int64_t symbol) = 0;
  // The logits of the symbol after the context.
  virtual std::vector<double> next_logits() = 0;
};

// A model decoded with caches: `step` gives the logits after `symbol` at
// `position` and updates the caches; `prefill` (optional) empties them
// and reads a whole context in one pass, giving the logits after it;
// `clear` empties them.
struct DecodeFunctions {
  std::function<std::vector<double>(int64_t symbol, int64_t position)> step;
  std::function<void()> clear;
  std::function<std::vector<double>(const std::vector<int64_t>& context)> prefill;
};

class StepDecoder : public Decoder {
 public:
  StepDecoder(DecodeFunctions functions, int64_t window);
  int64_t window() const override { return window_; }
  // One prefill, or (without one) a step per symbol from empty caches.
  void start(const std::vector<int64_t>& context) override;
  void append(int64_t symbol) override;
  std::vector<double> next_logits() override;
  int64_t steps() const { return steps_; }        // one-token steps run so far
  int64_t prefills() const { return prefills_; }  // prefills run so far

 private:
  DecodeFunctions functions_;
  int64_t window_;
  int64_t length_ = 0;
  std::vector<double> logits_;
  int64_t steps_ = 0, prefills_ = 0;
};

// The `length` bytes that follow `prompt` (1 to window() bytes; an Error
// otherwise), reproducible from `seed`; `on_byte` sees each as it comes.
std::string generate_text(Decoder& decoder, const std::string& prompt, int64_t length, const SamplingOptions& sampling,
                          uint64_t seed, const std::function<void(char)>& on_byte = {});

// Bytes as they can be shown on one line of a terminal or a page:
// printable ASCII kept, newlines as "⏎" where asked, others as "\xNN".
std::string printable(const std::string& bytes, bool keep_newlines);

}  // namespace reforge::runtime
