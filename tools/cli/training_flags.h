// The flags `reforge train` and `reforge run` share (steps, seed, data,
// logging, validation, run directory, checkpoints, samples, threads), and
// their reading into TrainingOptions with every value checked.
#pragma once

#include <map>
#include <string>

#include "models/reformer_config.h"
#include "runtime/fma_peak.h"
#include "tools/cli/command.h"
#include "training/loop.h"

namespace reforge::cli {

// Flag -> default, to merge into a command's own table.
const std::map<std::string, std::string>& training_flag_defaults();

// `--resume=DIR` is `--run_dir=DIR` plus resuming from its newest checkpoint.
training::TrainingOptions training_options(const Flags& flags, const std::string& model, const ReformerConfig& config);

// --threads: 0 (every core) to 1024.
int thread_count(const Flags& flags);

// The CPU's FP32 FMA peak the profile states the step's share of, for the
// run's threads: --fma_peak=GFLOPS, else measured once and cached
// (runtime/fma_peak.h).
runtime::FmaPeak profile_peak(const Flags& flags);

// --profile_top: how many DSL lines and kernels the profile lists (1 or more).
int profile_rows(const Flags& flags);

}  // namespace reforge::cli
