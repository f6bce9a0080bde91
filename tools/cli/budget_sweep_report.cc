#include "tools/cli/budget_sweep_report.h"

#include <fmt/format.h>

#include <algorithm>
#include <cmath>

#include "compiler/memory/plan_dump.h"

namespace reforge::cli {

std::string sweep_to_text(const std::string& model, const std::vector<SweepRow>& rows) {
  std::string out = fmt::format("memory budget sweep of {}: the choice for each budget, planned\n", model);
  out += fmt::format("  {:>12} {:>14} {:>7} {:>14} {:>11}\n", "budget", "stored blocks", "chunks", "planned peak",
                     "GFLOP/step");
  for (const SweepRow& r : rows) {
    const BudgetChoice& c = r.choice;
    out += fmt::format("  {:>12} {:>14} {:>7} {:>14} {:>11.2f}\n", format_bytes(c.budget_bytes),
                       fmt::format("{} of {}", c.stored_blocks, c.blocks), c.ff_chunks, format_bytes(c.peak_bytes),
                       r.flops / 1e9);
  }
  return out;
}

std::string sweep_to_json(const std::string& model, const std::vector<SweepRow>& rows) {
  std::string out = "{\n  \"schema\": \"reforge.budget_sweep/1\",\n";
  out += fmt::format("  \"model\": \"{}\",\n  \"rows\": [\n", model);
  for (size_t i = 0; i < rows.size(); ++i) {
    const BudgetChoice& c = rows[i].choice;
    out += fmt::format(
        "    {{\"budget_bytes\": {}, \"stored_blocks\": {}, \"blocks\": {}, \"ff_chunks\": {}, \"peak_bytes\": {}, "
        "\"flops\": {}}}{}\n",
        c.budget_bytes, c.stored_blocks, c.blocks, c.ff_chunks, c.peak_bytes, rows[i].flops,
        i + 1 < rows.size() ? "," : "");
  }
  return out + "  ]\n}\n";
}

// x: the budget (log scale); y: GFLOP a step; each point labelled with its
// choice, its planned peak on hover.
std::string sweep_to_html(const std::string& model, const std::vector<SweepRow>& rows) {
  const int width = 720, height = 420, margin = 60;
  double x_low = 1, x_high = 2, y_high = 1;
  if (!rows.empty()) {
    x_low = std::log2(static_cast<double>(std::max<int64_t>(rows.front().choice.budget_bytes, 1)));
    x_high = std::max(x_low + 1e-9, std::log2(static_cast<double>(std::max<int64_t>(rows.back().choice.budget_bytes, 1))));
  }
  for (const SweepRow& r : rows) y_high = std::max(y_high, r.flops / 1e9);
  auto x_of = [&](int64_t budget) {
    const double at = (std::log2(static_cast<double>(std::max<int64_t>(budget, 1))) - x_low) / (x_high - x_low);
    return margin + at * (width - 2 * margin);
  };
  auto y_of = [&](double gflop) { return height - margin - gflop / (1.1 * y_high) * (height - 2 * margin); };
  std::string out =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Reforge memory budget sweep</title>\n"
      "<style>body{font-family:sans-serif;margin:16px}circle:hover{stroke:#000;stroke-width:2}</style>\n"
      "</head><body>\n";
  out += fmt::format("<h2>Memory budget sweep: {}</h2>\n", html_escape(model));
  out += "<p>x: the memory budget (log scale); y: the step's GFLOP as the chosen plan does them. Each point: how many "
         "reversible blocks store their activations and how many feed-forward chunks; hover for the planned "
         "peak.</p>\n";
  out += fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">\n", width, height);
  out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#ccc\"/>\n", margin,
                     margin, width - 2 * margin, height - 2 * margin);
  std::string line;
  for (const SweepRow& r : rows) line += fmt::format("{:.1f},{:.1f} ", x_of(r.choice.budget_bytes), y_of(r.flops / 1e9));
  out += fmt::format("<polyline points=\"{}\" fill=\"none\" stroke=\"#4477aa\" stroke-width=\"2\"/>\n", line);
  for (const SweepRow& r : rows) {
    const BudgetChoice& c = r.choice;
    const double x = x_of(c.budget_bytes), y = y_of(r.flops / 1e9);
    out += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"5\" fill=\"#4477aa\"><title>budget {}: {}; planned peak {}; {:.2f} "
        "GFLOP a step</title></circle>\n",
        x, y, format_bytes(c.budget_bytes), html_escape(c.describe()), format_bytes(c.peak_bytes), r.flops / 1e9);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{:.1f}\" font-size=\"11\" text-anchor=\"middle\">{}/{}, {}</text>\n", x,
                       y - 10, c.stored_blocks, c.blocks, c.ff_chunks);
    out += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"10\" text-anchor=\"middle\">{}</text>\n", x,
                       height - margin + 16, format_bytes(c.budget_bytes));
  }
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\">{:.1f} GFLOP</text>\n", 4, y_of(y_high) + 4, y_high);
  out += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"11\">0</text>\n", margin - 14, height - margin);
  out += "</svg>\n<p>Labels: stored blocks / reversible blocks, feed-forward chunks.</p>\n</body></html>\n";
  return out;
}

}  // namespace reforge::cli
