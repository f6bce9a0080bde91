#include "training/generation.h"

#include "base/error.h"

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

}  // namespace reforge::training
