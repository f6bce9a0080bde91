#include "tools/cli/training_loop.h"

#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>

#include "runtime/progress.h"

namespace reforge::cli {

TrainingRun run_training(const Task& task, int64_t steps, int64_t tokens_per_step, int64_t log_every,
                         const std::function<ValueMap(const ValueMap&)>& step) {
  ProgressReporter progress(steps, tokens_per_step, "tokens", log_every);
  TrainingRun run;
  for (int64_t s = 1; s <= steps; ++s) {
    ValueMap batch = task.batch(s);
    auto started = std::chrono::steady_clock::now();
    run.last = step(batch);
    run.step_seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
    progress.report(s, run.last.at("loss")[0]);
  }
  return run;
}

void print_training_summary(const TrainingRun& run, const Task& task, const std::string& backend) {
  std::vector<double> sorted = run.step_seconds;
  std::sort(sorted.begin(), sorted.end());
  fmt::print("step time: median {:.3f}s, fastest {:.3f}s over {} steps ({} backend)\n", sorted[sorted.size() / 2],
             sorted.front(), sorted.size(), backend);
  double loss = run.last.at("loss")[0];
  fmt::print("final loss {:.6f} {} ({:.3f} bits), accuracy {:.1f}%\n", loss, task.loss_unit(), loss / std::log(2.0),
             100.0 * run.last.at("accuracy")[0]);
}

}  // namespace reforge::cli
