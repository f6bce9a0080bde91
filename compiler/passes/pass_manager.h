// Runs a named pipeline of graph-to-graph passes, verifying the graph after
// each one and printing the IR after the passes the user asked to see.
#pragma once

#include <functional>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace reforge {

struct Pass {
  std::string name;
  std::function<std::unique_ptr<Graph>(const Graph&)> run;
};

struct PassManagerOptions {
  std::set<std::string> print_after;  // pass names
  bool print_after_all = false;
  // Receives "// IR after <pass>\n<text>"; stdout when empty.
  std::function<void(const std::string&)> print;
  // Said after the list of passes when print_after names none of them
  // (the other pipelines the name could belong to).
  std::string also_known;
};

class PassManager {
 public:
  explicit PassManager(PassManagerOptions options = {}) : options_(std::move(options)) {}
  void add(Pass pass) { passes_.push_back(std::move(pass)); }
  // Throws reforge::Error naming the pass if it leaves a malformed graph,
  // or if print_after names a pass that is not in the pipeline.
  std::unique_ptr<Graph> run(const Graph& graph) const;
  std::vector<std::string> names() const;

 private:
  PassManagerOptions options_;
  std::vector<Pass> passes_;
};

}  // namespace reforge
