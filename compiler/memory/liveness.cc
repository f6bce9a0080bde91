#include "compiler/memory/liveness.h"

namespace reforge {

std::vector<LiveInterval> compute_liveness(const Graph& g, const std::vector<int>& schedule,
                                           const std::vector<int>* executed_with) {
  std::vector<LiveInterval> live(g.size());
  std::vector<int> step_of(g.size(), 0);
  for (int step = 0; step < static_cast<int>(schedule.size()); ++step) step_of[schedule[step]] = step;
  for (int step = 0; step < static_cast<int>(schedule.size()); ++step) {
    int id = schedule[step];
    int runs_at = executed_with ? step_of[(*executed_with)[id]] : step;
    live[id].first = runs_at;
    if (live[id].last < runs_at) live[id].last = runs_at;
    for (int in : g.node(id).inputs) live[in].last = std::max(live[in].last, runs_at);
  }
  const int end = static_cast<int>(schedule.size());
  for (const auto& [name, id] : g.outputs()) live[id].last = end;
  return live;
}

}  // namespace reforge
