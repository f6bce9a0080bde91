#include "training/generation.h"

#include <fmt/format.h>

#include <algorithm>

#include "runtime/kernels/counter_rng.h"

namespace reforge::training {

std::string generate_text(const ForwardPass& forward, const ReformerConfig& config, const std::string& prompt,
                          int64_t length, const runtime::SamplingOptions& sampling, uint64_t seed) {
  const int64_t window = config.seq_len, batch = config.batch, vocab = config.vocab_size;
  std::string text = prompt.empty() ? "\n" : prompt;
  std::string generated;
  for (int64_t i = 0; i < length; ++i) {
    int64_t context = std::min<int64_t>(static_cast<int64_t>(text.size()), window);
    std::string_view visible = std::string_view(text).substr(text.size() - context);
    ValueMap feeds;
    HostTensor tokens({DType::i64, {batch, window}}), targets({DType::i64, {batch, window}});
    HostTensor weights({DType::f32, {batch, window}});
    for (int64_t row = 0; row < batch; ++row) {
      for (int64_t t = 0; t < context; ++t) tokens[row * window + t] = static_cast<unsigned char>(visible[t]);
      weights[row * window] = 1.0;  // the loss is not used; keep its mean defined
    }
    feeds["tokens"] = std::move(tokens);
    feeds["targets"] = std::move(targets);
    feeds["loss_weights"] = std::move(weights);
    feeds["rng"] = HostTensor::scalar(DType::i64, 0.0);
    ValueMap out = forward(feeds);
    const HostTensor& logits = out.at("logits");
    std::vector<double> row(logits.data.begin() + (context - 1) * vocab, logits.data.begin() + context * vocab);
    double u = kernels::counter_uniform(seed, 0x6e6e, static_cast<uint64_t>(i));
    char next = static_cast<char>(runtime::sample_symbol(row, sampling, u));
    text += next;
    generated += next;
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
