#include "compiler/ir/printer.h"

#include <fmt/format.h>

#include <cctype>

namespace reforge {
namespace {

std::string quote(const std::string& s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (c == '\n') {
      out += "\\n";
      continue;
    }
    out += c;
  }
  return out + "\"";
}

// A graph name as the parser reads it back: bare when it is a plain
// identifier, quoted otherwise ("byte-lm").
std::string printable_name(const std::string& name) {
  bool plain = !name.empty() && (std::isalpha(static_cast<unsigned char>(name[0])) || name[0] == '_');
  for (char c : name) {
    plain = plain && (std::isalnum(static_cast<unsigned char>(c)) || c == '_' || c == '.' || c == '#');
  }
  return plain ? name : quote(name);
}

std::string format_float(double v) {
  std::string s = fmt::format("{}", v);
  if (s.find_first_of(".eEni") == std::string::npos) s += ".0";  // "inf"/"nan" contain n or i
  return s;
}

void print_into(const Graph& g, const PrintOptions& options, int indent, std::string& out) {
  std::string pad(indent, ' ');
  out += fmt::format("{}graph {} {{\n", pad, printable_name(g.name()));
  for (int id = 0; id < g.size(); ++id) {
    const Node& n = g.node(id);
    std::vector<std::string> inputs;
    for (int in : n.inputs) {
      inputs.push_back(in >= 0 && in < g.size() ? "%" + g.node(in).name : fmt::format("%<dangling:{}>", in));
    }
    out += fmt::format("{}  %{} = {}({})", pad, n.name, n.op, fmt::join(inputs, ", "));
    if (!n.attrs.entries().empty()) {
      std::vector<std::string> attrs;
      for (const auto& [name, value] : n.attrs.entries()) attrs.push_back(name + "=" + format_attr_value(value));
      out += fmt::format(" {{{}}}", fmt::join(attrs, ", "));
    }
    out += " : " + type_to_string(n.type);
    if (options.locations && n.loc.known()) out += fmt::format(" @{}:{}", quote(n.loc.file), n.loc.line);
    if (!n.regions.empty()) {
      out += " regions {\n";
      for (const auto& region : n.regions) print_into(*region, options, indent + 4, out);
      out += pad + "  }";
    }
    out += "\n";
  }
  std::vector<std::string> outputs;
  for (const auto& [name, id] : g.outputs()) {
    outputs.push_back(name + "=%" + (id >= 0 && id < g.size() ? g.node(id).name : "<dangling>"));
  }
  out += fmt::format("{}  return {}\n{}}}\n", pad, fmt::join(outputs, ", "), pad);
}

}  // namespace

std::string format_attr_value(const AttrValue& value) {
  switch (attr_kind(value)) {
    case AttrKind::integer:
      return std::to_string(std::get<int64_t>(value));
    case AttrKind::real:
      return format_float(std::get<double>(value));
    case AttrKind::string:
      return quote(std::get<std::string>(value));
    case AttrKind::int_list:
      return fmt::format("[{}]", fmt::join(std::get<std::vector<int64_t>>(value), ","));
  }
  return "?";
}

std::string print_graph(const Graph& graph, const PrintOptions& options) {
  std::string out;
  print_into(graph, options, 0, out);
  return out;
}

}  // namespace reforge
