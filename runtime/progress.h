// One-line progress for long work: step, loss, throughput and ETA, printed
// every `every` steps and at the end.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace reforge {

class ProgressReporter {
 public:
  // `unit` names what throughput counts ("tokens", "examples").
  ProgressReporter(int64_t total_steps, int64_t items_per_step, std::string unit, int64_t every = 1,
                   std::FILE* out = stdout);

  // Records that `step` (1-based) finished with `loss`.
  void report(int64_t step, double loss);

 private:
  int64_t total_steps_, items_per_step_, every_;
  std::string unit_;
  std::FILE* out_;
  std::chrono::steady_clock::time_point start_;
};

// "1h02m", "3m05s", "12.3s"
std::string format_duration(double seconds);

}  // namespace reforge
