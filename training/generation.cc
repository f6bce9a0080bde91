#include "training/generation.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/kernels/counter_rng.h"

namespace reforge::training {

ForwardDecoder::ForwardDecoder(ForwardPass forward, const ReformerConfig& config, bool feeds_valid_length)
    : forward_(std::move(forward)), config_(config), feeds_valid_length_(feeds_valid_length) {}

void ForwardDecoder::append(int64_t symbol) {
  if (static_cast<int64_t>(context_.size()) >= window()) throw Error("ForwardDecoder: the context is full");
  context_.push_back(symbol);
}

std::vector<double> ForwardDecoder::next_logits() {
  const int64_t window = config_.seq_len, batch = config_.batch, vocab = config_.vocab_size;
  const int64_t context = static_cast<int64_t>(context_.size());
  if (context == 0) throw Error("ForwardDecoder: no context to predict from");
  ValueMap feeds;
  HostTensor tokens({DType::i64, {batch, window}}), targets({DType::i64, {batch, window}});
  HostTensor weights({DType::f32, {batch, window}});
  for (int64_t row = 0; row < batch; ++row) {
    for (int64_t t = 0; t < context; ++t) tokens[row * window + t] = static_cast<double>(context_[t]);
    weights[row * window] = 1.0;  // the loss is not used; keep its mean defined
  }
  feeds["tokens"] = std::move(tokens);
  feeds["targets"] = std::move(targets);
  feeds["loss_weights"] = std::move(weights);
  feeds["rng"] = HostTensor::scalar(DType::i64, 0.0);
  if (feeds_valid_length_) feeds["valid_length"] = HostTensor::scalar(DType::i64, static_cast<double>(context));
  ValueMap out = forward_(feeds);
  ++passes_;
  const HostTensor& logits = out.at("logits");
  return {logits.data.begin() + (context - 1) * vocab, logits.data.begin() + context * vocab};
}

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
                          const runtime::SamplingOptions& sampling, uint64_t seed,
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
    char next = static_cast<char>(runtime::sample_symbol(logits, sampling, u));
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

}  // namespace reforge::training
