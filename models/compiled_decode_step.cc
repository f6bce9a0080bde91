#include "models/compiled_decode_step.h"

#include <cstring>

#include "compiler/pipeline/compile.h"

namespace reforge {

CompiledDecodeStep::CompiledDecodeStep(const ReformerConfig& config, const std::string& name, int threads)
    : step_(build_reformer_decode_step(config, name)), window_(config.seq_len), vocab_(config.vocab_size) {
  ValueProvenance caches;
  for (const auto* list : {&step_.carried, &step_.carried_rows}) {
    for (const runtime::CarriedSlot& c : *list) caches.update_outputs.insert(c.next);
  }
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
    // Into the step's slots, where no clear or step touches it again.
    for (const auto& [output, id] : step_.setup->outputs()) {
      if (executable_->executor().find_slot(output) >= 0) executable_->feed(output, setup->read_output(output));
    }
  }
  clear();
}

std::vector<double> CompiledDecodeStep::run(int64_t symbol, int64_t position) {
  HostTensor token({DType::i64, {1, 1}});
  token[0] = static_cast<double>(symbol);
  executable_->feed("token", token);
  executable_->feed("position", HostTensor::scalar(DType::i64, static_cast<double>(position)));
  executable_->run();
  runtime::carry_decode_updates(executable_->executor(), step_.carried, step_.carried_rows, position);
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
  // Every cache, byte for byte from the prefill's outputs (host memory).
  runtime::Executor& step = executable_->executor();
  const runtime::Executor& whole = prefill_->executor();
  for (const auto& [name, id] : prefill_graph_->outputs()) {
    if (int slot = name == "logits" ? -1 : step.find_slot(name); slot >= 0) step.write_slot(slot, whole.output(name));
  }
  const auto* logits = reinterpret_cast<const float*>(whole.output("logits"));  // [1, L, vocab], f32
  return {logits + (n - 1) * vocab_, logits + n * vocab_};
}

void CompiledDecodeStep::clear() {
  runtime::Executor& e = executable_->executor();
  for (const auto* list : {&step_.carried, &step_.carried_rows}) {
    for (const runtime::CarriedSlot& c : *list) {
      if (int slot = e.find_slot(c.slot); slot >= 0) {
        std::memset(e.slot_data(slot), 0, static_cast<size_t>(e.program().slots.at(slot).type.bytes()));
      }
    }
  }
}

}  // namespace reforge
