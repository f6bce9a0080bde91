#include "models/compiled_decode_step.h"

#include <cstring>

#include "compiler/pipeline/compile.h"

namespace reforge {

CompiledDecodeStep::CompiledDecodeStep(const ReformerConfig& config, const std::string& name, int threads)
    : step_(build_reformer_decode_step(config, name)) {
  ValueProvenance caches;
  for (const CacheUpdate& u : step_.caches) caches.update_outputs.insert(u.output);
  graph_ = compile_forward(*step_.graph, {});
  executable_ = CpuExecutable::build(*graph_, caches, {.threads = threads});
  // The fixed state, drawn once as the forward pass draws it (rng 0).
  if (!step_.setup->outputs().empty()) {
    std::unique_ptr<CpuExecutable> setup = CpuExecutable::build(*compile_forward(*step_.setup, {}), {}, {.threads = threads});
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
