#include "runtime/progress.h"

#include <fmt/format.h>
#include <unistd.h>

#include "runtime/process_memory.h"

namespace reforge {

ProgressReporter::ProgressReporter(int64_t first_step, int64_t total_steps, int64_t items_per_step, std::string unit,
                                   int64_t every, ProgressFormat format, std::FILE* out)
    : first_step_(first_step),
      total_steps_(total_steps),
      items_per_step_(items_per_step),
      every_(every < 1 ? 1 : every),
      unit_(std::move(unit)),
      format_(format),
      out_(out),
      live_(format == ProgressFormat::text && isatty(fileno(out))),
      start_(std::chrono::steady_clock::now()) {}

double ProgressReporter::elapsed_seconds() const {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
}

void ProgressReporter::report(int64_t step, double loss, double bits) {
  if (format_ == ProgressFormat::text && !live_ && step % every_ != 0 && step != total_steps_) return;
  double elapsed = elapsed_seconds();
  int64_t done = step - first_step_ + 1;
  double per_second = elapsed > 0 ? static_cast<double>(done * items_per_step_) / elapsed : 0.0;
  double eta = done > 0 ? elapsed / static_cast<double>(done) * static_cast<double>(total_steps_ - step) : 0.0;
  const int64_t resident = runtime::resident_bytes();
  if (format_ == ProgressFormat::jsonl) {
    fmt::print(out_,
               "{{\"step\": {}, \"total_steps\": {}, \"loss\": {:.9g}, \"bits\": {:.9g}, \"{}_per_second\": {:.1f}, "
               "\"elapsed_seconds\": {:.3f}, \"eta_seconds\": {:.3f}, \"resident_bytes\": {}}}\n",
               step, total_steps_, loss, bits, unit_, per_second, elapsed, eta, resident);
    std::fflush(out_);
    return;
  }
  std::string line =
      fmt::format("step {:>{}}/{}  loss {:.4f}  {:.3f} bits  {:.0f} {}/s  elapsed {}  eta {}  mem {:.0f} MiB", step,
                  std::to_string(total_steps_).size(), total_steps_, loss, bits, per_second, unit_,
                  format_duration(elapsed), format_duration(eta), static_cast<double>(resident) / (1 << 20));
  if (live_) {
    fmt::print(out_, "\r{}\x1b[K", line);
    live_line_open_ = true;
    if (step == total_steps_) end_live_line();
  } else {
    fmt::print(out_, "{}\n", line);
  }
  std::fflush(out_);
}

void ProgressReporter::note(const std::string& text, const std::string& json) {
  if (format_ == ProgressFormat::jsonl) {
    fmt::print(out_, "{}\n", json);
  } else {
    end_live_line();
    fmt::print(out_, "{}\n", text);
  }
  std::fflush(out_);
}

void ProgressReporter::end_live_line() {
  if (!live_line_open_) return;
  fmt::print(out_, "\n");
  live_line_open_ = false;
}

void ProgressReporter::finish() {
  end_live_line();
  std::fflush(out_);
}

std::string format_duration(double seconds) {
  if (seconds < 60) return fmt::format("{:.1f}s", seconds);
  auto total = static_cast<int64_t>(seconds);
  if (total < 3600) return fmt::format("{}m{:02}s", total / 60, total % 60);
  return fmt::format("{}h{:02}m", total / 3600, (total % 3600) / 60);
}

}  // namespace reforge
