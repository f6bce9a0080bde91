#include "runtime/progress.h"

#include <fmt/format.h>

namespace reforge {

ProgressReporter::ProgressReporter(int64_t total_steps, int64_t items_per_step, std::string unit, int64_t every,
                                   std::FILE* out)
    : total_steps_(total_steps),
      items_per_step_(items_per_step),
      every_(every < 1 ? 1 : every),
      unit_(std::move(unit)),
      out_(out),
      start_(std::chrono::steady_clock::now()) {}

void ProgressReporter::report(int64_t step, double loss) {
  if (step % every_ != 0 && step != total_steps_) return;
  double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  double per_second = elapsed > 0 ? static_cast<double>(step * items_per_step_) / elapsed : 0.0;
  double eta = step > 0 ? elapsed / static_cast<double>(step) * static_cast<double>(total_steps_ - step) : 0.0;
  fmt::print(out_, "step {:>{}}/{}  loss {:.4f}  {:.0f} {}/s  elapsed {}  eta {}\n", step,
             std::to_string(total_steps_).size(), total_steps_, loss, per_second, unit_, format_duration(elapsed),
             format_duration(eta));
  std::fflush(out_);
}

std::string format_duration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  auto total = static_cast<int64_t>(seconds);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

}  // namespace reforge
