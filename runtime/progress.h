// Progress of long work, for people and for scripts. On a terminal, one
// live line is redrawn every step (step/total, loss, bits per symbol,
// tokens/s, elapsed, ETA, resident memory); into a file or pipe, that line
// is printed every `every` steps; as JSON lines, one object per step.
// Other lines (validation scores) are printed above the live line.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <string>

namespace reforge {

enum class ProgressFormat { text, jsonl };

class ProgressReporter {
 public:
  // Steps run from `first_step` (after a resume) to `total_steps`; `unit`
  // names what throughput counts ("tokens").
  ProgressReporter(int64_t first_step, int64_t total_steps, int64_t items_per_step, std::string unit, int64_t every,
                   ProgressFormat format = ProgressFormat::text, std::FILE* out = stdout);

  // Records that `step` finished with `loss` (nats) = `bits` per symbol.
  void report(int64_t step, double loss, double bits);
  // A line of its own (text), or a JSON object (jsonl: `json` is used).
  void note(const std::string& text, const std::string& json);
  // Ends the live line.
  void finish();

  double elapsed_seconds() const;

 private:
  void end_live_line();

  int64_t first_step_, total_steps_, items_per_step_, every_;
  std::string unit_;
  ProgressFormat format_;
  std::FILE* out_;
  bool live_;
  bool live_line_open_ = false;
  std::chrono::steady_clock::time_point start_;
};

// "1h02m", "3m05s", "12.3s"
std::string format_duration(double seconds);

}  // namespace reforge
