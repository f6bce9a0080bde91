// The loop `reforge train` and `reforge run` share: a batch per step from
// the task, one step, a progress line; then the step-time and loss summary.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include "compiler/interpreter/interpreter.h"
#include "models/tasks.h"

namespace reforge::cli {

struct TrainingRun {
  ValueMap last;  // the outputs of the last step (loss, accuracy, ...)
  std::vector<double> step_seconds;
};

TrainingRun run_training(const Task& task, int64_t steps, int64_t tokens_per_step, int64_t log_every,
                         const std::function<ValueMap(const ValueMap&)>& step);

// "step time: median ..., fastest ..." and "final loss ...".
void print_training_summary(const TrainingRun& run, const Task& task, const std::string& backend);

}  // namespace reforge::cli
