// A memory budget decides the training step's plan: which reversible
// blocks store their activations for the backward pass and which rebuild
// their inputs (a second forward pass through them), and how many chunks
// the feed-forward runs in. The choice does the least work that fits: as
// many blocks store as the budget allows (recompute costs a block's
// forward FLOPs again; chunking costs next to nothing), then the fewest
// chunks. Every candidate is planned, so "fits" is the planner's peak: a
// binary search over the stored count (storing more never lowers the
// peak), and for each count the chunk counts 1, 2, 4, ... while they still
// lower the peak.
#pragma once

#include <cstdint>
#include <optional>
#include <string>
#include <vector>

#include "compiler/pipeline/compile.h"
#include "models/reformer_config.h"

namespace reforge {

struct BudgetChoice {
  int64_t budget_bytes = 0;   // what it was chosen for
  int64_t stored_blocks = 0;  // the last blocks that store (CompileOptions::stored_blocks)
  int64_t blocks = 0;         // reversible blocks in the model (0: not reversible)
  int64_t ff_chunks = 1;
  int64_t peak_bytes = 0;  // the planned transient peak (the arena) with that choice
  int plans = 0;           // candidates planned to find it

  int64_t rebuilt_blocks() const { return blocks - stored_blocks; }
  // "4 of 6 blocks store their activations, 2 rebuild them; 8 feed-forward chunks"
  std::string describe() const;
};

// What the budget may not change: a chunk count or a stored-block count
// the user fixed.
struct BudgetFixed {
  std::optional<int64_t> ff_chunks, stored_blocks;
};

// The choice for `budget_bytes` of transient memory (the arena; parameters
// and optimizer state come on top). Without reversible recompute in
// `options` only the chunk count is chosen. Throws reforge::Error naming
// the smallest peak any choice reaches when none fits.
BudgetChoice choose_for_budget(const ReformerConfig& config, int64_t budget_bytes, const CompileOptions& options = {},
                               const BudgetFixed& fixed = {});

// One row of a budget sweep: the choice for a budget and the work the
// chosen step does (its launches' FLOPs, recompute counted).
struct SweepRow {
  BudgetChoice choice;
  int64_t flops = 0;
};

// The choices for `points` budgets spaced evenly (in log) from the
// smallest plan any choice reaches to the one where every block stores
// and the feed-forward runs whole: what memory buys in work.
std::vector<SweepRow> sweep_budgets(const ReformerConfig& config, const CompileOptions& options = {},
                                    int points = 8);

// "4096", "512KiB", "256MiB", "2GiB" -> bytes; an Error names bad input.
int64_t parse_byte_size(const std::string& text);

}  // namespace reforge
