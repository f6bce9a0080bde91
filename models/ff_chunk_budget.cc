#include "models/ff_chunk_budget.h"

#include <fmt/format.h>

#include "models/reformer.h"
#include "models/reformer_step.h"

namespace reforge {

ChunkChoice choose_ff_chunks(const ReformerConfig& config, int64_t budget_bytes, const CompileOptions& options) {
  std::vector<int64_t> counts;
  for (int64_t c = 1; c < config.seq_len; c *= 2) counts.push_back(c);
  counts.push_back(config.seq_len);
  ChunkChoice best{0, 0};
  for (int64_t chunks : counts) {
    ReformerConfig c = config;
    c.ff_chunks = chunks;
    CompiledStep step = compile_reformer_step(c, options, "budget");
    int64_t peak = plan_step_memory(step).arena_bytes;
    if (peak <= budget_bytes) return {chunks, peak};
    if (best.ff_chunks == 0 || peak < best.peak_bytes) best = {chunks, peak};
  }
  throw Error(
      fmt::format("no feed-forward chunk count fits --memory_budget={} bytes; the smallest peak is {} bytes "
                  "(with {} chunks): raise the budget or shrink the model",
                  budget_bytes, best.peak_bytes, best.ff_chunks));
}

int64_t parse_byte_size(const std::string& text) {
  static const std::pair<const char*, int64_t> kUnits[] = {
      {"GiB", int64_t{1} << 30}, {"MiB", int64_t{1} << 20}, {"KiB", int64_t{1} << 10}, {"B", 1}, {"", 1}};
  for (const auto& [suffix, scale] : kUnits) {
    std::string unit = suffix;
    if (text.size() < unit.size() || text.compare(text.size() - unit.size(), unit.size(), unit) != 0) continue;
    std::string number = text.substr(0, text.size() - unit.size());
    try {
      size_t used = 0;
      double value = std::stod(number, &used);
      double bytes = value * static_cast<double>(scale);
      // 1 PiB: beyond any machine's memory, and far from int64's limit.
      if (used == number.size() && value > 0 && bytes <= 0x1p50) return static_cast<int64_t>(bytes);
      if (used == number.size() && bytes > 0x1p50) {
        throw Error("--memory_budget=" + text + " is more than 1 PiB; no machine has that much memory");
      }
    } catch (const std::logic_error&) {
    }
    break;
  }
  throw Error("'" + text + "' is not a size: use bytes or a number with KiB, MiB or GiB, e.g. 512MiB");
}

}  // namespace reforge
