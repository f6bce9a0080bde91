// `reforge report RUN_DIR -o report.html`: one self-contained page about a
// training run — training and validation curves (SVG) against the task's
// baseline, the config, the memory plan picture the run wrote, and the
// generated samples. Nothing is loaded from the network.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <filesystem>
#include <fstream>
#include <optional>
#include <sstream>

#include "base/error.h"
#include "compiler/memory/plan_dump.h"
#include "base/durable_file.h"
#include "base/json_reader.h"
#include "tools/cli/command.h"

namespace reforge::cli {
namespace {

namespace fs = std::filesystem;

const std::map<std::string, std::string> kReportFlags = {{"output", ""}};
constexpr int64_t kMaxRunFile = int64_t{1} << 30;

struct Point {
  double step, value;
};

struct RunRecord {
  JsonValue description;
  std::vector<Point> train, validation;
  std::string plan_html, samples;
};

RunRecord read_run(const std::string& dir) {
  RunRecord r;
  fs::path base(dir);
  if (!fs::is_directory(base)) throw Error(fmt::format("{} is not a run directory", dir));
  if (!fs::exists(base / "run.json")) {
    throw Error(fmt::format("{} has no run.json: is it a run directory (reforge train --run_dir=...)?", dir));
  }
  r.description =
      parse_json(read_whole_file((base / "run.json").string(), "run description", kMaxRunFile),
                          (base / "run.json").string());
  if (fs::exists(base / "metrics.jsonl")) {
    std::istringstream lines(read_whole_file((base / "metrics.jsonl").string(), "metrics log", kMaxRunFile));
    for (std::string line; std::getline(lines, line);) {
      if (line.empty()) continue;
      JsonValue v;
      try {
        v = parse_json(line, "metrics.jsonl");
      } catch (const Error&) {
        continue;  // a line cut short by a kill
      }
      const JsonValue* step = v.find("step");
      if (!step || !step->is(JsonValue::Kind::number)) continue;
      if (const JsonValue* bits = v.find("bits")) r.train.push_back({step->number(), bits->number()});
      if (const JsonValue* bits = v.find("validation_bits")) r.validation.push_back({step->number(), bits->number()});
    }
  }
  if (fs::exists(base / "plan.html")) {
    std::string page = read_whole_file((base / "plan.html").string(), "plan picture", kMaxRunFile);
    size_t style = page.find("<style>"), style_end = page.find("</style>");
    size_t body = page.find("<body>"), body_end = page.rfind("</body>");
    if (style != std::string::npos && style_end != std::string::npos) {
      r.plan_html += page.substr(style, style_end + 8 - style);
    }
    if (body != std::string::npos && body_end != std::string::npos)
      r.plan_html += page.substr(body + 6, body_end - body - 6);
  }
  if (fs::exists(base / "samples.txt")) {
    r.samples = read_whole_file((base / "samples.txt").string(), "samples", kMaxRunFile);
  }
  return r;
}

// A moving average over `window` points: the trend under per-batch noise.
std::vector<Point> smoothed(const std::vector<Point>& points, size_t window) {
  std::vector<Point> out;
  double sum = 0;
  for (size_t i = 0; i < points.size(); ++i) {
    sum += points[i].value;
    if (i >= window) sum -= points[i - window].value;
    out.push_back({points[i].step, sum / static_cast<double>(std::min(i + 1, window))});
  }
  return out;
}

std::string curves_svg(const RunRecord& r, std::optional<double> baseline, const std::string& unit) {
  const double width = 760, height = 360, left = 60, right = 20, top = 20, bottom = 40;
  double max_step = 1, max_bits = 0.1, min_bits = 1e9;
  for (const auto* series : {&r.train, &r.validation}) {
    for (const Point& p : *series) {
      max_step = std::max(max_step, p.step);
      if (std::isfinite(p.value)) {
        max_bits = std::max(max_bits, p.value);
        min_bits = std::min(min_bits, p.value);
      }
    }
  }
  if (baseline) max_bits = std::max(max_bits, *baseline);
  min_bits = std::min(min_bits == 1e9 ? 0.0 : min_bits, baseline.value_or(min_bits));
  min_bits = std::max(0.0, std::floor(min_bits * 0.9));
  max_bits = std::ceil(max_bits * 1.05);
  auto x = [&](double step) { return left + (width - left - right) * step / max_step; };
  auto y = [&](double bits) { return top + (height - top - bottom) * (1 - (bits - min_bits) / (max_bits - min_bits)); };
  auto polyline = [&](const std::vector<Point>& points, const char* cls, const char* colour, double stroke) {
    std::string pts;
    for (const Point& p : points) {
      if (std::isfinite(p.value)) pts += fmt::format("{:.1f},{:.1f} ", x(p.step), y(p.value));
    }
    return fmt::format("<polyline class=\"{}\" fill=\"none\" stroke=\"{}\" stroke-width=\"{}\" points=\"{}\"/>\n", cls,
                       colour, stroke, pts);
  };
  std::string svg = fmt::format(
      "<svg xmlns=\"http://www.w3.org/2000/svg\" class=\"curves\" width=\"{}\" height=\"{}\" "
      "viewBox=\"0 0 {} {}\">\n<rect width=\"100%\" height=\"100%\" fill=\"white\"/>\n",
      width, height, width, height);
  for (int i = 0; i <= 5; ++i) {
    double bits = min_bits + (max_bits - min_bits) * i / 5;
    svg += fmt::format(
        "<line x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#ddd\"/><text x=\"{3}\" y=\"{4:.1f}\" "
        "font-size=\"11\" text-anchor=\"end\">{5:.2f}</text>\n",
        left, width - right, y(bits), left - 6, y(bits) + 4, bits);
    double step = max_step * i / 5;
    svg += fmt::format("<text x=\"{:.1f}\" y=\"{}\" font-size=\"11\" text-anchor=\"middle\">{:.0f}</text>\n", x(step),
                       height - bottom + 16, step);
  }
  svg += fmt::format("<text x=\"{}\" y=\"{}\" font-size=\"12\" text-anchor=\"middle\">step</text>\n",
                     (left + width - right) / 2, height - 6);
  svg += fmt::format(
      "<text x=\"14\" y=\"{}\" font-size=\"12\" transform=\"rotate(-90 14 {})\" text-anchor=\"middle\">bits per "
      "{}</text>\n",
      height / 2, height / 2, html_escape(unit));
  if (baseline) {
    svg += fmt::format(
        "<line class=\"baseline\" x1=\"{0}\" x2=\"{1}\" y1=\"{2:.1f}\" y2=\"{2:.1f}\" stroke=\"#888\" "
        "stroke-dasharray=\"6 4\"/><text x=\"{1}\" y=\"{3:.1f}\" font-size=\"11\" text-anchor=\"end\">unigram "
        "baseline {4:.3f}</text>\n",
        left, width - right, y(*baseline), y(*baseline) - 4, *baseline);
  }
  svg += polyline(r.train, "train-raw", "#9ecae1", 1);
  svg += polyline(smoothed(r.train, 20), "train", "#1f77b4", 2);
  svg += polyline(r.validation, "validation", "#d62728", 2.5);
  for (const Point& p : r.validation) {
    svg += fmt::format(
        "<circle cx=\"{:.1f}\" cy=\"{:.1f}\" r=\"3\" fill=\"#d62728\"><title>step {:.0f}: {:.3f}</title></circle>\n",
        x(p.step), y(p.value), p.step, p.value);
  }
  svg += "</svg>\n";
  return svg;
}

std::string text_of(const JsonValue* v) {
  if (!v) return "-";
  if (v->is(JsonValue::Kind::string)) return v->string();
  if (v->is(JsonValue::Kind::number)) return fmt::format("{}", v->number());
  return "-";
}

int run_report(const std::vector<std::string>& args) {
  std::vector<std::string> rest = args;
  for (auto& a : rest) {
    if (a == "-o") a = "--output";
  }
  Flags flags(rest, kReportFlags);
  if (flags.positional().size() != 1) throw UsageError("usage: reforge report RUN_DIR -o report.html");
  const std::string output = flags.get("output");
  if (output.empty()) throw UsageError("reforge report needs the page's path: -o report.html");
  RunRecord r = read_run(flags.positional()[0]);
  const JsonValue& d = r.description;
  std::optional<double> baseline;
  if (const JsonValue* b = d.find("baseline_bits"); b && b->is(JsonValue::Kind::number)) baseline = b->number();
  std::string unit = text_of(d.find("bits_unit"));

  std::string page =
      "<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Reforge run report</title>\n"
      "<style>body{font-family:sans-serif;margin:20px;max-width:1200px}table{border-collapse:collapse}"
      "td,th{border:1px solid #ccc;padding:2px 8px;text-align:left;font-size:13px}pre{background:#f6f6f6;padding:8px;"
      "white-space:pre-wrap}.key span{margin-right:16px}</style></head><body>\n";
  page +=
      fmt::format("<h1>Reforge run: {}</h1>\n<p>{}; seed {}; {} steps; {}</p>\n", html_escape(text_of(d.find("model"))),
                  html_escape(text_of(d.find("task"))), html_escape(text_of(d.find("seed"))),
                  html_escape(text_of(d.find("steps"))), html_escape(text_of(d.find("compiler_version"))));
  page +=
      "<h2>Learning curves</h2>\n<p class=\"key\"><span style=\"color:#1f77b4\">&#9632; training (20-step mean; "
      "raw in light blue)</span><span style=\"color:#d62728\">&#9632; validation (held out)</span>";
  if (baseline) page += fmt::format("<span style=\"color:#888\">- - unigram baseline</span>");
  page += "</p>\n" + curves_svg(r, baseline, unit);
  if (!r.validation.empty()) {
    page +=
        fmt::format("<p>Last validation: <b>{:.3f} bits per {}</b>{}.</p>\n", r.validation.back().value,
                    html_escape(unit), baseline ? fmt::format(" against a unigram baseline of {:.3f}", *baseline) : "");
  }
  page += "<h2>Config</h2>\n<table>\n";
  if (const JsonValue* config = d.find("config"); config && config->is(JsonValue::Kind::object)) {
    for (const auto& [k, v] : config->object()) {
      page += fmt::format("<tr><th>{}</th><td>{}</td></tr>\n", html_escape(k), html_escape(text_of(&v)));
    }
  }
  page += "</table>\n<h2>Memory plan</h2>\n<div class=\"memory-plan\">\n" +
          (r.plan_html.empty() ? std::string("<p>(the run wrote no plan picture)</p>") : r.plan_html) + "</div>\n";
  page += "<h2>Samples</h2>\n<pre class=\"samples\">" +
          (r.samples.empty() ? std::string("(none: train with --samples=N)") : html_escape(r.samples)) + "</pre>\n";
  page += "</body></html>\n";
  write_file_durably(output, page, "report");
  fmt::print("wrote {} ({} training points, {} validations)\n", output, r.train.size(), r.validation.size());
  return 0;
}

const bool registered = [] {
  register_command({"report", "an HTML page of a training run (reforge report RUN_DIR -o report.html)", run_report});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
