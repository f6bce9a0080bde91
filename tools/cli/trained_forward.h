// The forward pass of a trained run, compiled for this CPU with the newest
// checkpoint's parameters: what `reforge generate` samples from and
// `reforge eval` scores. The config may differ from the run's where no
// parameter depends on it (the number of hashes, the attention kind
// between kinds with the same weights); a change that would need other
// parameters is refused, naming the flags that made it.
#pragma once

#include <memory>
#include <string>

#include "compiler/interpreter/interpreter.h"
#include "compiler/pipeline/cpu_executable.h"
#include "models/compiled_decode_step.h"
#include "models/reformer.h"
#include "models/reformer_config.h"
#include "runtime/checkpoint.h"

namespace reforge::cli {

struct TrainedForward {
  runtime::Checkpoint checkpoint;  // the run's newest
  std::string checkpoint_path;
  ReformerConfig trained;  // the config the run was trained with
  ReformerConfig config;   // the one this forward pass is compiled with
  std::unique_ptr<Graph> graph;
  std::unique_ptr<CpuExecutable> executable;

  // One forward pass: loss, accuracy and logits for `batch`.
  ValueMap run(const ValueMap& batch, bool with_logits = true);
};

// `change(config)` edits the trained config (or leaves it); `changed` names
// the flags it applied ("--attention=full"), for the refusal.
// `build` as the forward graph is built (generation's takes valid_length).
TrainedForward open_trained_forward(const std::string& run_dir, int threads,
                                    const std::function<void(ReformerConfig&)>& change = {},
                                    const std::string& changed = "", const ReformerBuild& build = {});

// The one-token decode step of a trained run (models/decode_step.h),
// compiled for this CPU with the newest checkpoint's parameters.
struct TrainedDecoder {
  runtime::Checkpoint checkpoint;
  std::string checkpoint_path;
  ReformerConfig config;
  std::unique_ptr<CompiledDecodeStep> step;
};

TrainedDecoder open_trained_decoder(const std::string& run_dir, int threads);

}  // namespace reforge::cli
