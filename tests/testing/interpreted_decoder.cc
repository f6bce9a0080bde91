#include "tests/testing/interpreted_decoder.h"

namespace reforge::testing {

InterpretedDecoder::InterpretedDecoder(const ReformerConfig& config, const ValueMap& params)
    : config_(config), step_(build_reformer_decode_step(config, "t", DType::f64)) {
  for (const runtime::PersistentInit& p : persistent_values(*step_.graph)) {
    if (auto it = params.find(p.name); it != params.end()) params_[p.name] = it->second;
  }
  clear();
}

void InterpretedDecoder::clear() {
  state_ = params_;
  for (const runtime::PersistentInit& p : persistent_values(*step_.graph)) {
    if (!state_.count(p.name)) state_[p.name] = HostTensor(p.type);  // a cache: zero
  }
  if (!step_.setup->outputs().empty()) {
    for (auto& [name, value] : run_decode_setup(step_)) state_[name] = value;
  }
}

std::vector<double> InterpretedDecoder::step(int64_t token, int64_t position) {
  ValueMap feeds = state_;
  HostTensor t({DType::i64, {1, 1}});
  t[0] = static_cast<double>(token);
  feeds["token"] = t;
  feeds["position"] = HostTensor::scalar(DType::i64, static_cast<double>(position));
  ValueMap out = run_graph(*step_.graph, feeds);
  update_caches(step_, out, position, state_);
  return out.at("logits").data;
}

std::vector<double> InterpretedDecoder::prefill(const std::vector<int64_t>& tokens, int64_t n) {
  const int64_t len = config_.seq_len, vocab = config_.vocab_size;
  ValueMap feeds = params_;
  HostTensor tok({DType::i64, {1, len}});
  for (int64_t i = 0; i < n; ++i) tok[i] = static_cast<double>(tokens[i]);
  feeds["tokens"] = tok;
  feeds["rng"] = HostTensor::scalar(DType::i64, 0.0);
  feeds["valid_length"] = HostTensor::scalar(DType::i64, static_cast<double>(n));
  ValueMap out = run_graph(*step_.prefill, feeds);
  // Every cache comes from the prefill, whatever the caches held before
  // (the compiled paths do not clear them first).
  for (const auto* list : {&step_.carried, &step_.carried_rows}) {
    for (const runtime::CarriedSlot& c : *list) {
      if (!out.count(c.slot)) throw Error("the prefill does not write the cache '" + c.slot + "'");
      state_.at(c.slot) = out.at(c.slot);
    }
  }
  const HostTensor& logits = out.at("logits");
  return {logits.data.begin() + (n - 1) * vocab, logits.data.begin() + n * vocab};
}

runtime::DecodeFunctions InterpretedDecoder::functions(bool with_prefill) {
  runtime::DecodeFunctions f{[this](int64_t s, int64_t p) { return step(s, p); }, [this] { clear(); }, nullptr};
  if (with_prefill) {
    f.prefill = [this](const std::vector<int64_t>& context) {
      return prefill(context, static_cast<int64_t>(context.size()));
    };
  }
  return f;
}

}  // namespace reforge::testing
