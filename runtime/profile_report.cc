#include "runtime/profile_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

#include "runtime/library_calls.h"

namespace reforge::runtime {
namespace {

struct Totals {
  double seconds = 0;
  int64_t launches = 0, flops = 0, bytes = 0;
};

std::string table(const std::string& title, const std::map<std::string, Totals>& groups, double total, int64_t runs,
                  int limit) {
  std::vector<std::pair<std::string, Totals>> rows(groups.begin(), groups.end());
  std::stable_sort(rows.begin(), rows.end(),
                   [](const auto& a, const auto& b) { return a.second.seconds > b.second.seconds; });
  std::string out = fmt::format("== {} ==\n  {:<40} {:>10} {:>6} {:>8} {:>9} {:>8}\n", title, "", "ms/step", "%",
                                "launches", "GFLOP/s", "GB/s");
  for (int i = 0; i < limit && i < static_cast<int>(rows.size()); ++i) {
    const auto& [name, t] = rows[i];
    double per_run = t.seconds / runs;
    std::string gflops = t.flops > 0 && per_run > 0 ? fmt::format("{:.1f}", t.flops / per_run / 1e9) : "-";
    std::string gbytes = per_run > 0 ? fmt::format("{:.1f}", t.bytes / per_run / 1e9) : "-";
    out += fmt::format("  {:<40} {:>10.2f} {:>6.1f} {:>8} {:>9} {:>8}\n", name, 1e3 * per_run,
                       total > 0 ? 100 * t.seconds / total : 0.0, t.launches, gflops, gbytes);
  }
  return out;
}

}  // namespace

std::string profile_report(const Program& program, const std::vector<double>& seconds, int64_t runs, int top_lines,
                           const std::optional<FmaPeak>& peak) {
  std::map<std::string, Totals> by_op, by_line, by_kernel;
  double total = 0;
  // Data parallelism: time blocked on the other ranks (a bucket's wait, a
  // sum done at once), and time packing buckets and starting their sums.
  double waiting = 0, starting = 0;
  int waits = 0;
  int64_t flops = 0;
  for (size_t i = 0; i < program.launches.size() && i < seconds.size(); ++i) {
    const Launch& l = program.launches[i];
    int64_t bytes = 0;
    for (const BufferRef& b : l.buffers) bytes += b.bytes;
    // Identical kernels share one compiled function: group by it, named
    // with the op and the source line of its first launch.
    const std::string op = l.op.empty() ? l.function : l.op;
    Totals* kernel = &by_kernel[fmt::format("{} {} {}", l.function, op, l.source)];
    for (Totals* t : {&by_op[op], &by_line[l.source], kernel}) {
      t->seconds += seconds[i];
      t->launches += 1;
      t->flops += l.flops;
      t->bytes += bytes;
    }
    total += seconds[i];
    flops += l.flops;
    if (l.function == AllReduceWaitCall::kFunction || l.function == AllReduceCall::kFunction) {
      waiting += seconds[i];
      ++waits;
    }
    if (l.function == AllReduceStartCall::kFunction) starting += seconds[i];
  }
  runs = std::max<int64_t>(runs, 1);
  std::string out =
      fmt::format("profile: {:.1f} ms per step in {} launches\n", 1e3 * total / runs, program.launches.size());
  const double step_seconds = total / runs;
  if (flops > 0 && step_seconds > 0) {
    const double rate = flops / step_seconds / 1e9;
    out += fmt::format("work: {:.2f} GFLOP per step as the plan does it (recompute counted), {:.1f} GFLOP/s", flops / 1e9,
                       rate);
    if (peak && peak->gflops > 0) {
      out += fmt::format(" = {:.1f}% of the FP32 FMA peak ({:.1f} GFLOP/s on {} threads, {})", 100 * rate / peak->gflops,
                         peak->gflops, peak->threads, peak->vector);
    }
    out += "\n";
  }
  if (waits > 0) {
    out += fmt::format(
        "communication: {:.2f} ms per step waiting on the other ranks ({:.1f}% of the step, {} waits), {:.2f} ms "
        "packing buckets\n",
        1e3 * waiting / runs, total > 0 ? 100 * waiting / total : 0.0, waits, 1e3 * starting / runs);
  }
  out += table("by op", by_op, total, runs, static_cast<int>(by_op.size()));
  out += table(fmt::format("by DSL line (top {})", top_lines), by_line, total, runs, top_lines);
  out += table(fmt::format("by kernel or library function, op and line (top {})", top_lines), by_kernel, total, runs,
               top_lines);
  return out;
}

}  // namespace reforge::runtime
