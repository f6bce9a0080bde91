// The memory plan as people read it: text (a report), JSON (every buffer;
// schema in docs/PLAN_FORMAT.md) and a self-contained HTML picture.
#pragma once

#include <optional>
#include <string>
#include <vector>

#include "compiler/memory/memory_plan.h"

namespace reforge {

// "1.50 MiB"
std::string format_bytes(int64_t bytes);
// Text safe inside HTML elements and attribute values.
std::string html_escape(const std::string& s);

struct TechniqueSaving {
  std::string technique;      // e.g. "reversible recompute"
  int64_t arena_without = 0;  // arena bytes with the technique switched off
  int64_t arena_with = 0;
};

std::string plan_to_text(const MemoryPlan& plan, const std::vector<TechniqueSaving>& savings = {},
                         int top_buffers = 12);
// What a memory budget chose for the planned step (models/memory_budget.h;
// `reforge plan` without --memory_budget=none), for the JSON to say.
struct BudgetNote {
  int64_t budget_bytes = 0;
  bool by_default = false;  // the default budget, not --memory_budget=SIZE
  int64_t stored_blocks = 0, blocks = 0, ff_chunks = 1;
};
// `step_flops` (when above 0): the work of the step as planned, "step_flops".
std::string plan_to_json(const MemoryPlan& plan, const std::optional<BudgetNote>& budget = std::nullopt,
                         int64_t step_flops = 0);
// One HTML file, no network: an SVG per plan (x = step, y = arena offset,
// one rectangle per buffer, coloured by kind, details on hover, the peak
// marked). Several plans are drawn side by side with their titles.
std::string plans_to_html(const std::vector<std::pair<std::string, const MemoryPlan*>>& plans);

}  // namespace reforge
