#include "runtime/generation.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "runtime/kernels/counter_rng.h"

namespace reforge::runtime {

StepDecoder::StepDecoder(DecodeFunctions functions, int64_t window)
    : functions_(std::move(functions)), window_(window) {}

void StepDecoder::reset() {
  functions_.clear();
  length_ = 0;
  logits_.clear();
}

void StepDecoder::append(int64_t symbol) {
  if (length_ >= window_) throw Error("StepDecoder: the context is full");
  logits_ = functions_.step(symbol, length_++);
  ++steps_;
}

std::vector<double> StepDecoder::next_logits() {
  if (length_ == 0) throw Error("StepDecoder: no context to predict from");
  return logits_;
}

std::string generate_text(Decoder& decoder, const std::string& prompt, int64_t length,
                          const SamplingOptions& sampling, uint64_t seed,
                          const std::function<void(char)>& on_byte) {
  const int64_t window = decoder.window();
  if (prompt.empty()) throw Error("the prompt is empty (give at least one byte)");
  if (static_cast<int64_t>(prompt.size()) > window) {
    throw Error(fmt::format("the prompt is {} bytes, longer than the model's window of {}", prompt.size(), window));
  }
  std::string context = prompt, generated;
  decoder.reset();
  for (unsigned char c : context) decoder.append(c);
  for (int64_t i = 0; i < length; ++i) {
    std::vector<double> logits = decoder.next_logits();
    double u = kernels::counter_uniform(seed, 0x6e6e, static_cast<uint64_t>(i));
    char next = static_cast<char>(sample_symbol(logits, sampling, u));
    generated += next;
    if (on_byte) on_byte(next);
    if (i + 1 == length) break;
    if (static_cast<int64_t>(context.size()) == window) {
      // Full: keep the last half and read it again from an empty cache.
      context.erase(0, context.size() - static_cast<size_t>(window / 2));
      decoder.reset();
      for (unsigned char c : context) decoder.append(c);
    }
    context += next;
    decoder.append(static_cast<unsigned char>(next));
  }
  return generated;
}

std::string printable(const std::string& bytes, bool keep_newlines) {
  std::string out;
  for (unsigned char c : bytes) {
    if (c == '\n') {
      out += keep_newlines ? "\n" : "⏎";
    } else if (c >= 0x20 && c < 0x7f) {
      out += static_cast<char>(c);
    } else {
      out += fmt::format("\\x{:02x}", c);
    }
  }
  return out;
}

}  // namespace reforge::runtime
