#include "compiler/memory/liveness.h"

namespace reforge {

std::vector<LiveInterval> compute_liveness(const Graph& g, const std::vector<int>& schedule) {
  std::vector<LiveInterval> live(g.size());
  for (int step = 0; step < static_cast<int>(schedule.size()); ++step) {
    int id = schedule[step];
    live[id].first = step;
    if (live[id].last < step) live[id].last = step;
    for (int in : g.node(id).inputs) live[in].last = std::max(live[in].last, step);
  }
  const int end = static_cast<int>(schedule.size());
  for (const auto& [name, id] : g.outputs()) live[id].last = end;
  return live;
}

}  // namespace reforge
