// `reforge plan <model> --budget_sweep`: what memory buys in work. For
// budgets from the smallest plan to the roomiest, the memory budget's
// choice (which reversible blocks store, how many feed-forward chunks),
// the planned peak and the step's FLOPs, as a text table, JSON (schema
// reforge.budget_sweep/1, docs/PLAN_FORMAT.md) or one self-contained HTML
// picture.
#pragma once

#include <string>
#include <vector>

#include "models/memory_budget.h"

namespace reforge::cli {

std::string sweep_to_text(const std::string& model, const std::vector<SweepRow>& rows);
std::string sweep_to_json(const std::string& model, const std::vector<SweepRow>& rows);
std::string sweep_to_html(const std::string& model, const std::vector<SweepRow>& rows);

}  // namespace reforge::cli
