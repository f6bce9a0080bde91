#include "compiler/memory/schedule.h"

#include <map>

namespace reforge {

std::vector<int> schedule_nodes(const Graph& g) {
  const int n = g.size();
  std::vector<int> first_consumer(n, -1);
  for (int id = 0; id < n; ++id) {
    for (int in : g.node(id).inputs) {
      if (first_consumer[in] < 0) first_consumer[in] = id;
    }
  }
  std::vector<bool> sinkable(n, false);
  std::multimap<int, int> sunk_before;  // consumer -> sinkable nodes, in id order
  for (int id = 0; id < n; ++id) {
    const Node& node = g.node(id);
    if (is_source(node) || first_consumer[id] < 0) continue;
    bool from_sources = true;
    for (int in : node.inputs) from_sources = from_sources && is_source(g.node(in));
    if (!from_sources) continue;
    sinkable[id] = true;
    sunk_before.emplace(first_consumer[id], id);
  }
  std::vector<int> order;
  order.reserve(n);
  for (int id = 0; id < n; ++id) {
    if (is_source(g.node(id))) order.push_back(id);
  }
  for (int id = 0; id < n; ++id) {
    if (sinkable[id] || is_source(g.node(id))) continue;
    auto [begin, end] = sunk_before.equal_range(id);
    for (auto it = begin; it != end; ++it) order.push_back(it->second);
    order.push_back(id);
  }
  return order;
}

}  // namespace reforge
