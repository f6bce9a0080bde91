#include "runtime/generation.h"

#include <fmt/format.h>

#include <algorithm>

#include "base/error.h"
#include "runtime/kernels/counter_rng.h"

namespace reforge::runtime {

StepDecoder::StepDecoder(DecodeFunctions functions, int64_t window)
    : functions_(std::move(functions)), window_(window) {}

void StepDecoder::start(const std::vector<int64_t>& context) {
  if (context.empty() || static_cast<int64_t>(context.size()) > window_) {
    throw Error(fmt::format("StepDecoder: a context of {} symbols for a window of {}", context.size(), window_));
  }
  if (functions_.prefill) {
    logits_ = functions_.prefill(context);
    length_ = static_cast<int64_t>(context.size());
    ++prefills_;
    return;
  }
  functions_.clear();
  length_ = 0;
  for (int64_t symbol : context) append(symbol);
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

std::string generate_text(Decoder& decoder, const std::string& prompt, int64_t length, const SamplingOptions& sampling,
                          uint64_t seed, const std::function<void(char)>& on_byte) {
  const int64_t window = decoder.window();
  if (prompt.empty()) throw Error("the prompt is empty (give at least one byte)");
  if (static_cast<int64_t>(prompt.size()) > window) {
    throw Error(fmt::format("the prompt is {} bytes, longer than the model's window of {}", prompt.size(), window));
  }
  std::string context = prompt, generated;
  auto symbols = [](const std::string& text) {
    std::vector<int64_t> out;
    for (unsigned char c : text) out.push_back(c);
    return out;
  };
  decoder.start(symbols(context));
  for (int64_t i = 0; i < length; ++i) {
    std::vector<double> logits = decoder.next_logits();
    double u = kernels::counter_uniform(seed, 0x6e6e, static_cast<uint64_t>(i));
    char next = static_cast<char>(sample_symbol(logits, sampling, u));
    generated += next;
    if (on_byte) on_byte(next);
    if (i + 1 == length) break;
    if (static_cast<int64_t>(context.size()) == window) {
      // Full: keep the last half, and start again from it and the new byte.
      context.erase(0, context.size() - static_cast<size_t>(window / 2));
      context += next;
      decoder.start(symbols(context));
    } else {
      context += next;
      decoder.append(static_cast<unsigned char>(next));
    }
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
