#include "compiler/passes/pass_manager.h"

#include <fmt/format.h>

#include "compiler/ir/printer.h"
#include "compiler/ir/verifier.h"

namespace reforge {

std::vector<std::string> PassManager::names() const {
  std::vector<std::string> out;
  for (const Pass& p : passes_) out.push_back(p.name);
  return out;
}

std::unique_ptr<Graph> PassManager::run(const Graph& graph) const {
  for (const std::string& name : options_.print_after) {
    bool known = false;
    for (const Pass& p : passes_) known = known || p.name == name;
    if (!known) {
      std::string message = fmt::format("cannot print after '{}': no such pass (pipeline: {})", name,
                                        fmt::join(names(), ", "));
      if (!options_.also_known.empty()) message += fmt::format("; {}", options_.also_known);
      throw Error(message);
    }
  }
  std::unique_ptr<Graph> current = graph.clone();
  for (const Pass& pass : passes_) {
    current = pass.run(*current);
    if (auto problem = find_problem(*current)) {
      throw Error(fmt::format("pass '{}' produced a malformed graph: {}", pass.name, *problem));
    }
    if (options_.print_after_all || options_.print_after.count(pass.name)) {
      std::string text = fmt::format("// IR after {}\n{}", pass.name, print_graph(*current));
      if (options_.print)
        options_.print(text);
      else
        fmt::print("{}", text);
    }
  }
  return current;
}

}  // namespace reforge
