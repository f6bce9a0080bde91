#include "models/memory_budget.h"

#include <fmt/format.h>

#include <map>
#include <utility>
#include <vector>

#include "models/reformer.h"
#include "models/reformer_step.h"

namespace reforge {
namespace {

// 1, 2, 4, ... and finally seq_len chunks.
std::vector<int64_t> chunk_counts(int64_t seq_len) {
  std::vector<int64_t> counts;
  for (int64_t c = 1; c < seq_len; c *= 2) counts.push_back(c);
  counts.push_back(seq_len);
  return counts;
}

}  // namespace

std::string BudgetChoice::describe() const {
  const std::string recompute =
      blocks == 0 ? "no reversible blocks"
                  : fmt::format("{} of {} reversible blocks store their activations, {} rebuild them", stored_blocks,
                                blocks, rebuilt_blocks());
  return fmt::format("{}; {} feed-forward chunk{}", recompute, ff_chunks, ff_chunks == 1 ? "" : "s");
}

BudgetChoice choose_for_budget(const ReformerConfig& config, int64_t budget_bytes, const CompileOptions& options,
                               const BudgetFixed& fixed) {
  const int64_t blocks = config.reversible && options.reversible_recompute ? config.n_layers : 0;
  const std::vector<int64_t> counts =
      fixed.ff_chunks ? std::vector<int64_t>{*fixed.ff_chunks} : chunk_counts(config.seq_len);
  std::map<std::pair<int64_t, int64_t>, int64_t> planned;  // (stored, chunks) -> peak
  BudgetChoice smallest;
  auto peak_of = [&](int64_t stored, int64_t chunks) {
    auto [it, fresh] = planned.emplace(std::pair(stored, chunks), 0);
    if (!fresh) return it->second;
    ReformerConfig c = config;
    c.ff_chunks = chunks;
    CompileOptions o = options;
    o.stored_blocks = stored;
    it->second = plan_step_memory(compile_reformer_step(c, o, "budget")).arena_bytes;
    if (planned.size() == 1 || it->second < smallest.peak_bytes) {
      smallest = {.stored_blocks = stored, .blocks = blocks, .ff_chunks = chunks, .peak_bytes = it->second};
    }
    return it->second;
  };
  // With `stored` blocks storing: the fewest chunks that fit, or 0. More
  // chunks are tried while they still lower the peak (by 1% or more):
  // past that the feed-forward is no longer what sets it.
  auto fewest_chunks = [&](int64_t stored) -> int64_t {
    int64_t previous = -1;
    for (int64_t chunks : counts) {
      const int64_t peak = peak_of(stored, chunks);
      if (peak <= budget_bytes) return chunks;
      if (previous >= 0 && peak > previous - previous / 100) return 0;
      previous = peak;
    }
    return 0;
  };
  // The most stored blocks that fit: storing one more never lowers the
  // peak, so a binary search over 0..blocks.
  int64_t low = fixed.stored_blocks.value_or(0), high = fixed.stored_blocks.value_or(blocks);
  int64_t best = -1, best_chunks = 0;
  while (low <= high) {
    const int64_t mid = (low + high) / 2;
    if (const int64_t chunks = fewest_chunks(mid); chunks > 0) {
      best = mid;
      best_chunks = chunks;
      low = mid + 1;
    } else {
      high = mid - 1;
    }
  }
  if (best < 0) {
    throw Error(fmt::format("no plan fits --memory_budget={} bytes; the smallest peak is {} bytes ({}): raise the "
                            "budget or shrink the model",
                            budget_bytes, smallest.peak_bytes, smallest.describe()));
  }
  return {.stored_blocks = best,
          .blocks = blocks,
          .ff_chunks = best_chunks,
          .peak_bytes = peak_of(best, best_chunks),
          .plans = static_cast<int>(planned.size())};
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
