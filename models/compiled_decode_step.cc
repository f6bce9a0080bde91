#include "models/compiled_decode_step.h"

#include <cstring>

#include "compiler/pipeline/compile.h"

namespace reforge {

CompiledDecodeStep::CompiledDecodeStep(const ReformerConfig& config, const std::string& name, int threads)
    : step_(build_reformer_decode_step(config, name)), window_(config.seq_len), vocab_(config.vocab_size) {
  ValueProvenance caches;
  for (const CacheUpdate& u : step_.caches) caches.update_outputs.insert(u.output);
  graph_ = compile_forward(*step_.graph, {});
  executable_ = CpuExecutable::build(*graph_, caches, {.threads = threads});
  prefill_graph_ = compile_forward(*step_.prefill, {});
  prefill_ = CpuExecutable::build(*prefill_graph_, {}, {.threads = threads});
  // The fixed state, drawn once as the forward pass draws it (rng 0).
  if (!step_.setup->outputs().empty()) {
    std::unique_ptr<CpuExecutable> setup =
        CpuExecutable::build(*compile_forward(*step_.setup, {}), {}, {.threads = threads});
    setup->feed("rng", HostTensor::scalar(DType::i64, 0.0));
    setup->run();
    for (const auto& [output, id] : step_.setup->outputs()) fixed_[output] = setup->read_output(output);
  }
  clear();
}

std::vector<double> CompiledDecodeStep::run(int64_t symbol, int64_t position) {
  HostTensor token({DType::i64, {1, 1}});
  token[0] = static_cast<double>(symbol);
  executable_->feed("token", token);
  executable_->feed("position", HostTensor::scalar(DType::i64, static_cast<double>(position)));
  executable_->run();
  runtime::Executor& e = executable_->executor();
  for (const CacheUpdate& u : step_.caches) {
    int slot = e.find_slot(u.cache);
    if (slot < 0) continue;  // a cache nothing reads
    if (u.row) {
      e.copy_output_to_slot_row(u.output, slot, position);
    } else {
      e.copy_output_to_slot(u.output, slot);
    }
  }
  return executable_->read_output("logits").data;
}

std::vector<double> CompiledDecodeStep::prefill(const std::vector<int64_t>& context) {
  const int64_t n = static_cast<int64_t>(context.size());
  HostTensor tokens({DType::i64, {1, window_}});
  for (int64_t i = 0; i < n; ++i) tokens[i] = static_cast<double>(context[i]);
  prefill_->feed("tokens", tokens);
  prefill_->feed("valid_length", HostTensor::scalar(DType::i64, static_cast<double>(n)));
  if (prefill_->executor().find_slot("rng") >= 0) prefill_->feed("rng", HostTensor::scalar(DType::i64, 0.0));
  prefill_->run();
  clear();
  runtime::Executor& e = executable_->executor();
  for (const auto& [name, id] : prefill_graph_->outputs()) {
    if (name != "logits" && e.find_slot(name) >= 0) executable_->feed(name, prefill_->read_output(name));
  }
  HostTensor logits = prefill_->read_output("logits");
  return {logits.data.begin() + (n - 1) * vocab_, logits.data.begin() + n * vocab_};
}

void CompiledDecodeStep::clear() {
  runtime::Executor& e = executable_->executor();
  for (const CacheUpdate& u : step_.caches) {
    if (int slot = e.find_slot(u.cache); slot >= 0) {
      std::memset(e.slot_data(slot), 0, static_cast<size_t>(e.program().slots.at(slot).type.bytes()));
    }
  }
  for (const auto& [name, value] : fixed_) {
    if (e.find_slot(name) >= 0) executable_->feed(name, value);
  }
}

}  // namespace reforge
