#include "compiler/memory/plan_dump.h"

#include <fmt/format.h>

#include <algorithm>
#include <map>

namespace reforge {
namespace {

std::string json_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      out += fmt::format("\\u{:04x}", static_cast<int>(c));
      continue;
    }
    out += c;
  }
  return out;
}

std::string where(const PlannedBuffer& b) { return b.loc.known() ? b.loc.to_string() : "-"; }

// The name of the buffer that holds node `value`.
std::string plan_buffer_name(const MemoryPlan& plan, int value) {
  const PlannedBuffer* b = plan.buffer_of(value);
  return b ? b->name : "?";
}

const char* kind_colour(ValueKind kind) {
  switch (kind) {
    case ValueKind::activation:
      return "#4e79a7";
    case ValueKind::decision:
      return "#f28e2b";
    case ValueKind::gradient:
      return "#e15759";
    case ValueKind::recompute:
      return "#76b7b2";
    case ValueKind::optimizer:
      return "#59a14f";
    case ValueKind::workspace:
      return "#b07aa1";
    case ValueKind::communication:
      return "#edc948";
    default:
      return "#9c755f";
  }
}

}  // namespace

std::string html_escape(const std::string& s) {
  std::string out;
  for (char c : s) {
    if (c == '<')
      out += "&lt;";
    else if (c == '>')
      out += "&gt;";
    else if (c == '&')
      out += "&amp;";
    else if (c == '"')
      out += "&quot;";
    else
      out += c;
  }
  return out;
}

std::string format_bytes(int64_t bytes) {
  double b = static_cast<double>(bytes);
  if (bytes < 1024) return fmt::format("{} B", bytes);
  if (b < 1024.0 * 1024) return fmt::format("{:.2f} KiB", b / 1024);
  if (b < 1024.0 * 1024 * 1024) return fmt::format("{:.2f} MiB", b / (1024.0 * 1024));
  return fmt::format("{:.2f} GiB", b / (1024.0 * 1024 * 1024));
}

std::string plan_to_text(const MemoryPlan& plan, const std::vector<TechniqueSaving>& savings, int top_buffers) {
  std::string out;
  double fragmentation = plan.arena_bytes > 0
                             ? 100.0 * static_cast<double>(plan.arena_bytes - plan.lower_bound_bytes) / plan.arena_bytes
                             : 0.0;
  out += fmt::format("memory plan of '{}': {} steps, {} transient buffers{}\n", plan.graph_name, plan.schedule.size(),
                     plan.buffers.size(), plan.options.buffer_reuse ? "" : " (buffer reuse OFF)");
  out += fmt::format("  peak arena (transient)        {:>12}  ({} bytes)\n", format_bytes(plan.arena_bytes),
                     plan.arena_bytes);
  out += fmt::format("  no-fragmentation lower bound  {:>12}  (most bytes live at once, step {})\n",
                     format_bytes(plan.lower_bound_bytes), plan.peak_step);
  out += fmt::format("  fragmentation                 {:>11.1f}%\n", fragmentation);
  if (plan.fused_values > 0) {
    out += fmt::format("  kept inside fused kernels     {:>12}  ({} elementwise values, no buffer)\n",
                       format_bytes(plan.fused_bytes), plan.fused_values);
  }
  out += "persistent (outside the arena)\n";
  for (ValueKind k :
       {ValueKind::parameter, ValueKind::parameter_gradient, ValueKind::optimizer_state, ValueKind::input}) {
    out += fmt::format("  {:<28}  {:>12}\n", value_kind_name(k), format_bytes(plan.persistent_bytes(k)));
  }

  std::vector<const PlannedBuffer*> live = plan.live_at(plan.peak_step);
  std::map<std::string, int64_t> by_kind;
  for (const PlannedBuffer* b : live) by_kind[value_kind_name(b->kind)] += b->bytes;
  out += fmt::format("live at the peak (step {}) by kind\n", plan.peak_step);
  for (const auto& [kind, bytes] : by_kind) out += fmt::format("  {:<28}  {:>12}\n", kind, format_bytes(bytes));
  out += fmt::format("top buffers live at the peak\n  {:>12}  {:<10}  {:<16}  {:<40}  {:<12}  {}\n", "bytes", "kind",
                     "shape", "value", "op", "source");
  for (int i = 0; i < top_buffers && i < static_cast<int>(live.size()); ++i) {
    const PlannedBuffer& b = *live[i];
    out += fmt::format("  {:>12}  {:<10}  {:<16}  {:<40}  {:<12}  {}\n", format_bytes(b.bytes), value_kind_name(b.kind),
                       type_to_string(b.type), b.name, b.alias_of >= 0 ? b.op + " (view)" : b.op, where(b));
  }

  int64_t saved_bytes = 0;
  for (const SavedForBackward& s : plan.saved_for_backward) saved_bytes += plan.buffers[s.buffer].bytes;
  out += fmt::format("saved for backward: {} values, {}\n", plan.saved_for_backward.size(), format_bytes(saved_bytes));
  std::vector<SavedForBackward> saved = plan.saved_for_backward;
  std::stable_sort(saved.begin(), saved.end(), [&](const auto& a, const auto& b) {
    return plan.buffers[a.buffer].bytes > plan.buffers[b.buffer].bytes;
  });
  for (int i = 0; i < top_buffers && i < static_cast<int>(saved.size()); ++i) {
    const PlannedBuffer& b = plan.buffers[saved[i].buffer];
    out += fmt::format("  {:>12}  {:<10}  {:<40}  read by {} ({})\n", format_bytes(b.bytes), value_kind_name(b.kind),
                       b.name, saved[i].consumer, saved[i].consumer_op);
  }
  if (static_cast<int>(saved.size()) > top_buffers) out += fmt::format("  ... {} more\n", saved.size() - top_buffers);

  if (!savings.empty()) {
    out += "what each technique saves (peak arena with it off -> on)\n";
    for (const TechniqueSaving& s : savings) {
      double factor = s.arena_with > 0 ? static_cast<double>(s.arena_without) / s.arena_with : 0.0;
      out += fmt::format("  {:<28}  {:>12} -> {:>12}  ({:.2f}x)\n", s.technique, format_bytes(s.arena_without),
                         format_bytes(s.arena_with), factor);
    }
  }
  return out;
}

std::string plan_to_json(const MemoryPlan& plan, const std::optional<BudgetNote>& budget, int64_t step_flops) {
  std::string out = "{\n";
  out += "  \"schema\": \"reforge.memory_plan/1\",\n";
  out += fmt::format("  \"graph\": \"{}\",\n", json_escape(plan.graph_name));
  out += fmt::format("  \"steps\": {},\n", plan.schedule.size());
  out += fmt::format("  \"arena_bytes\": {},\n", plan.arena_bytes);
  out += fmt::format("  \"lower_bound_bytes\": {},\n", plan.lower_bound_bytes);
  out += fmt::format("  \"peak_step\": {},\n", plan.peak_step);
  out += fmt::format("  \"buffer_reuse\": {},\n", plan.options.buffer_reuse ? "true" : "false");
  if (budget) {
    out += fmt::format(
        "  \"memory_budget\": {{\"budget_bytes\": {}, \"default\": {}, \"stored_blocks\": {}, \"blocks\": {}, "
        "\"ff_chunks\": {}}},\n",
        budget->budget_bytes, budget->by_default ? "true" : "false", budget->stored_blocks, budget->blocks,
        budget->ff_chunks);
  } else {
    out += "  \"memory_budget\": null,\n";
  }
  if (step_flops > 0) out += fmt::format("  \"step_flops\": {},\n", step_flops);
  out += "  \"persistent\": [\n";
  for (size_t i = 0; i < plan.persistent.size(); ++i) {
    const PersistentValue& v = plan.persistent[i];
    out +=
        fmt::format("    {{\"name\": \"{}\", \"kind\": \"{}\", \"dtype\": \"{}\", \"shape\": [{}], \"bytes\": {}}}{}\n",
                    json_escape(v.name), value_kind_name(v.kind), dtype_name(v.type.dtype),
                    fmt::join(v.type.shape, ", "), v.bytes, i + 1 < plan.persistent.size() ? "," : "");
  }
  out += "  ],\n  \"buffers\": [\n";
  for (size_t i = 0; i < plan.buffers.size(); ++i) {
    const PlannedBuffer& b = plan.buffers[i];
    out += fmt::format(
        "    {{\"name\": \"{}\", \"op\": \"{}\", \"kind\": \"{}\", \"dtype\": \"{}\", \"shape\": [{}], \"bytes\": {}, "
        "\"offset\": {}, \"first_step\": {}, \"last_step\": {}, \"allocation\": {}, \"alias_of\": {}, "
        "\"source\": \"{}\"}}{}\n",
        json_escape(b.name), b.op, value_kind_name(b.kind), dtype_name(b.type.dtype), fmt::join(b.type.shape, ", "),
        b.bytes, b.offset, b.first_step, b.last_step, b.allocation,
        b.alias_of >= 0 ? "\"" + json_escape(plan_buffer_name(plan, b.alias_of)) + "\"" : std::string("null"),
        json_escape(where(b)), i + 1 < plan.buffers.size() ? "," : "");
  }
  out += "  ],\n  \"saved_for_backward\": [\n";
  for (size_t i = 0; i < plan.saved_for_backward.size(); ++i) {
    const SavedForBackward& s = plan.saved_for_backward[i];
    out += fmt::format("    {{\"buffer\": \"{}\", \"read_by\": \"{}\", \"read_by_op\": \"{}\"}}{}\n",
                       json_escape(plan.buffers[s.buffer].name), json_escape(s.consumer), s.consumer_op,
                       i + 1 < plan.saved_for_backward.size() ? "," : "");
  }
  out += "  ]\n}\n";
  return out;
}

std::string plans_to_html(const std::vector<std::pair<std::string, const MemoryPlan*>>& plans) {
  const int width = 560, height = 420, margin = 40;
  int64_t tallest = 1;
  for (const auto& [title, plan] : plans) tallest = std::max(tallest, plan->arena_bytes);
  std::string out =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Reforge memory plan</title>\n"
      "<style>body{font-family:sans-serif;margin:16px}.plan{display:inline-block;vertical-align:top;margin-right:24px}"
      "rect.b:hover{stroke:#000;stroke-width:1.5}.legend span{display:inline-block;margin-right:12px}"
      ".legend i{display:inline-block;width:12px;height:12px;margin-right:4px;vertical-align:middle}</style>\n"
      "</head><body>\n<h2>Reforge memory plan</h2>\n<div class=\"legend\">";
  for (ValueKind k : {ValueKind::activation, ValueKind::decision, ValueKind::gradient, ValueKind::recompute,
                      ValueKind::optimizer, ValueKind::workspace, ValueKind::communication}) {
    out += fmt::format("<span><i style=\"background:{}\"></i>{}</span>", kind_colour(k), value_kind_name(k));
  }
  out += "</div>\n<p>x: program step, y: arena offset (all plans on one scale). Hover a buffer for details.</p>\n";
  for (const auto& [title, plan] : plans) {
    double steps = std::max<double>(1.0, static_cast<double>(plan->schedule.size()));
    double sx = (width - 2 * margin) / steps, sy = (height - 2 * margin) / static_cast<double>(tallest);
    out +=
        fmt::format("<div class=\"plan\"><h3>{}</h3><p>peak arena {} &middot; lower bound {} &middot; {} steps</p>\n",
                    html_escape(title), format_bytes(plan->arena_bytes), format_bytes(plan->lower_bound_bytes),
                    plan->schedule.size());
    out += fmt::format("<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{}\">\n", width, height);
    out += fmt::format("<rect x=\"{}\" y=\"{}\" width=\"{}\" height=\"{}\" fill=\"#fafafa\" stroke=\"#ccc\"/>\n",
                       margin, margin, width - 2 * margin, height - 2 * margin);
    for (const PlannedBuffer& b : plan->buffers) {
      double x = margin + b.first_step * sx, w = std::max(1.0, (b.last_step - b.first_step + 1) * sx);
      double y = height - margin - (b.offset + b.bytes) * sy, h = std::max(0.5, b.bytes * sy);
      out += fmt::format(
          "<rect class=\"b\" x=\"{:.2f}\" y=\"{:.2f}\" width=\"{:.2f}\" height=\"{:.2f}\" fill=\"{}\" "
          "fill-opacity=\"0.8\"><title>{}\n{} {} {}\nop {} at {}\noffset {} steps {}..{}</title></rect>\n",
          x, y, w, h, kind_colour(b.kind), html_escape(b.name), value_kind_name(b.kind), type_to_string(b.type),
          format_bytes(b.bytes), b.op, html_escape(where(b)), b.offset, b.first_step, b.last_step);
    }
    double peak_x = margin + plan->peak_step * sx, arena_y = height - margin - plan->arena_bytes * sy;
    out += fmt::format(
        "<line x1=\"{:.2f}\" y1=\"{}\" x2=\"{:.2f}\" y2=\"{}\" stroke=\"#000\" stroke-dasharray=\"4 3\"/>\n", peak_x,
        margin, peak_x, height - margin);
    out += fmt::format("<text x=\"{:.2f}\" y=\"{}\" font-size=\"11\">peak (step {})</text>\n", peak_x + 3, margin - 6,
                       plan->peak_step);
    out += fmt::format("<line x1=\"{}\" y1=\"{:.2f}\" x2=\"{}\" y2=\"{:.2f}\" stroke=\"#e15759\"/>\n", margin, arena_y,
                       width - margin, arena_y);
    out += fmt::format(
        "<text x=\"{}\" y=\"{}\" font-size=\"11\">step 0</text><text x=\"{}\" y=\"{}\" font-size=\"11\" "
        "text-anchor=\"end\">step {}</text>\n",
        margin, height - margin + 14, width - margin, height - margin + 14, plan->schedule.size());
    out += "</svg></div>\n";
  }
  out += "</body></html>\n";
  return out;
}

}  // namespace reforge
