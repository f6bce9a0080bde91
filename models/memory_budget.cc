#include "models/memory_budget.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <limits>
#include <map>
#include <optional>
#include <utility>
#include <vector>

#include "compiler/pipeline/lowering.h"
#include "models/reformer.h"
#include "models/reformer_step.h"

namespace reforge {

std::string BudgetChoice::describe() const {
  const std::string recompute =
      blocks == 0 ? "no reversible blocks"
                  : fmt::format("{} of {} reversible blocks store their activations, {} rebuild them", stored_blocks,
                                blocks, rebuilt_blocks());
  return fmt::format("{}; {} feed-forward chunk{}", recompute, ff_chunks, ff_chunks == 1 ? "" : "s");
}

namespace {

// 1, 2, 4, ... and finally seq_len chunks.
std::vector<int64_t> chunk_counts(int64_t seq_len) {
  std::vector<int64_t> counts;
  for (int64_t c = 1; c < seq_len; c *= 2) counts.push_back(c);
  counts.push_back(seq_len);
  return counts;
}

// The search the budget functions share: every (stored, chunks) candidate
// planned at most once, and the smallest peak seen.
class BudgetSearch {
 public:
  BudgetSearch(const ReformerConfig& config, const CompileOptions& options, const BudgetFixed& fixed)
      : config_(config),
        options_(options),
        fixed_(fixed),
        blocks_(config.reversible && options.reversible_recompute ? reversible_blocks(config) : 0),
        counts_(fixed.ff_chunks ? std::vector<int64_t>{*fixed.ff_chunks} : chunk_counts(config.seq_len)) {}

  // The most stored blocks that fit `budget`, then the fewest chunks.
  // Storing one more never lowers the peak: a binary search.
  std::optional<BudgetChoice> choose(int64_t budget) {
    int64_t low = fixed_.stored_blocks.value_or(0), high = fixed_.stored_blocks.value_or(blocks_);
    std::optional<BudgetChoice> best;
    while (low <= high) {
      const int64_t mid = (low + high) / 2;
      if (const int64_t chunks = fewest_chunks(mid, budget); chunks > 0) {
        best = choice(mid, chunks, budget);
        low = mid + 1;
      } else {
        high = mid - 1;
      }
    }
    return best;
  }

  const BudgetChoice& smallest() const { return smallest_; }

 private:
  int64_t peak_of(int64_t stored, int64_t chunks) {
    auto [it, fresh] = planned_.emplace(std::pair(stored, chunks), 0);
    if (!fresh) return it->second;
    ReformerConfig c = config_;
    c.ff_chunks = chunks;
    CompileOptions o = options_;
    o.stored_blocks = stored;
    it->second = plan_step_memory(compile_reformer_step(c, o, "budget")).arena_bytes;
    if (planned_.size() == 1 || it->second < smallest_.peak_bytes) smallest_ = choice(stored, chunks, 0);
    return it->second;
  }

  // With `stored` blocks storing: the fewest chunks that fit, or 0. More
  // chunks are tried until two counts in a row lower the smallest peak so
  // far by less than 1%: past that the feed-forward is no longer what sets
  // it. (One is not enough: splitting a small feed-forward in two can cost
  // more than it saves, and four chunks then save again.)
  int64_t fewest_chunks(int64_t stored, int64_t budget) {
    int64_t lowest = -1, flat = 0;
    for (int64_t chunks : counts_) {
      const int64_t peak = peak_of(stored, chunks);
      if (peak <= budget) return chunks;
      if (lowest >= 0 && peak > lowest - lowest / 100) {
        if (++flat == 2) return 0;
      } else {
        flat = 0;
      }
      lowest = lowest < 0 ? peak : std::min(lowest, peak);
    }
    return 0;
  }

  BudgetChoice choice(int64_t stored, int64_t chunks, int64_t budget) {
    return {.budget_bytes = budget,
            .stored_blocks = stored,
            .blocks = blocks_,
            .ff_chunks = chunks,
            .peak_bytes = planned_.at({stored, chunks}),
            .plans = static_cast<int>(planned_.size())};
  }

  const ReformerConfig& config_;
  const CompileOptions& options_;
  const BudgetFixed fixed_;
  const int64_t blocks_;
  const std::vector<int64_t> counts_;
  std::map<std::pair<int64_t, int64_t>, int64_t> planned_;  // (stored, chunks) -> peak
  BudgetChoice smallest_;
};

}  // namespace

BudgetChoice choose_for_budget(const ReformerConfig& config, int64_t budget_bytes, const CompileOptions& options,
                               const BudgetFixed& fixed) {
  BudgetSearch search(config, options, fixed);
  if (std::optional<BudgetChoice> choice = search.choose(budget_bytes)) return *choice;
  throw Error(fmt::format("no plan fits --memory_budget={} bytes; the smallest peak is {} bytes ({}): raise the "
                          "budget or shrink the model",
                          budget_bytes, search.smallest().peak_bytes, search.smallest().describe()));
}

std::vector<SweepRow> sweep_budgets(const ReformerConfig& config, const CompileOptions& options, int points) {
  BudgetSearch search(config, options, {});
  search.choose(-1);  // nothing fits: finds the smallest peak
  const int64_t smallest = search.smallest().peak_bytes;
  // The largest budget worth a row: every block stored, one chunk.
  const int64_t largest = std::max(smallest, search.choose(std::numeric_limits<int64_t>::max())->peak_bytes);
  // Neighbouring budgets often make the same choice: its work is counted once.
  std::map<std::pair<int64_t, int64_t>, int64_t> flops_of;  // (stored, chunks) -> FLOPs
  auto step_flops = [&](const BudgetChoice& choice) {
    auto [it, fresh] = flops_of.emplace(std::pair(choice.stored_blocks, choice.ff_chunks), 0);
    if (!fresh) return it->second;
    ReformerConfig c = config;
    c.ff_chunks = choice.ff_chunks;
    CompileOptions o = options;
    o.stored_blocks = choice.stored_blocks;
    const CompiledStep step = compile_reformer_step(c, o, "budget");
    const LoweredPlan lowered = lower_planned(plan_backend(*step.graph, step.provenance()));
    for (const runtime::Launch& launch : lowered.lowered.program.launches) it->second += launch.flops;
    return it->second;
  };
  std::vector<SweepRow> rows;
  for (int i = 0; i < points; ++i) {
    // The ends exactly; between them evenly in log.
    const double t = points == 1 ? 1.0 : static_cast<double>(i) / (points - 1);
    int64_t budget = static_cast<int64_t>(std::exp(std::log(static_cast<double>(smallest)) * (1 - t) +
                                                   std::log(static_cast<double>(largest)) * t));
    if (i == 0) budget = smallest;
    if (i == points - 1) budget = largest;
    budget = std::clamp(budget, smallest, largest);
    const BudgetChoice choice = *search.choose(budget);
    rows.push_back({.choice = choice, .flops = step_flops(choice)});
  }
  return rows;
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
