#include "compiler/interpreter/trainer.h"

namespace reforge {

InterpreterTrainer::InterpreterTrainer(const Graph& graph, TrainingStep step, uint64_t seed, InterpreterOptions options)
    : graph_(graph), step_(std::move(step)), options_(options), persistent_(initial_values(graph, seed)) {}

ValueMap InterpreterTrainer::run_step(const ValueMap& batch) {
  ValueMap feeds = persistent_;
  for (const auto& [name, value] : batch) feeds[name] = value;
  ValueMap out = run_graph(graph_, feeds, options_);
  for (const CarriedValue& c : step_.carried) {
    persistent_[c.source] = std::move(out.at(c.next));
    out.erase(c.next);
  }
  return out;
}

}  // namespace reforge
