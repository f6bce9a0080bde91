// The decode step (models/decode_step.h) compiled for this CPU in this
// process: what `reforge generate RUN_DIR` runs. The caller writes the
// parameters into its slots; the caches live in the executable's own
// slots, and the fixed state (the LSH rotations) is computed once here.
// An artifact's decode step runs the same graphs through the runtime
// (runtime::Model::decode) and gives the same bits.
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "compiler/pipeline/cpu_executable.h"
#include "models/decode_step.h"
#include "models/reformer_config.h"
#include "runtime/generation.h"

namespace reforge {

class CompiledDecodeStep {
 public:
  CompiledDecodeStep(const ReformerConfig& config, const std::string& name, int threads = 0);

  // The compiled step and prefill graphs and their executables (the
  // caller writes the parameters into both).
  const Graph& graph() const { return *graph_; }
  CpuExecutable& executable() { return *executable_; }
  const Graph& prefill_graph() const { return *prefill_graph_; }
  CpuExecutable& prefill_executable() { return *prefill_; }

  // The logits [vocab] after `symbol` at `position`, the caches updated.
  std::vector<double> run(int64_t symbol, int64_t position);
  // Reads `context` in one pass (every cache from the prefill); the logits after it.
  std::vector<double> prefill(const std::vector<int64_t>& context);
  // Empties every cache (the fixed state stays).
  void clear();
  // For a runtime::StepDecoder (this object must outlive it).
  runtime::DecodeFunctions functions() {
    return {[this](int64_t s, int64_t p) { return run(s, p); }, [this] { clear(); },
            [this](const std::vector<int64_t>& context) { return prefill(context); }};
  }

 private:
  DecodeStep step_;
  std::unique_ptr<Graph> graph_;
  std::unique_ptr<CpuExecutable> executable_;
  std::unique_ptr<Graph> prefill_graph_;
  std::unique_ptr<CpuExecutable> prefill_;
  int64_t window_, vocab_;
};

}  // namespace reforge
