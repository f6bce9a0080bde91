#include "compiler/memory/buffer_assignment.h"

#include <algorithm>
#include <cstdint>
#include <numeric>

namespace reforge {
namespace {

int64_t align_up(int64_t v, int64_t alignment) { return (v + alignment - 1) / alignment * alignment; }

bool overlap_in_time(const AllocationRequest& a, const AllocationRequest& b) {
  return a.first <= b.last && b.first <= a.last;
}

}  // namespace

ArenaAssignment assign_offsets(const std::vector<AllocationRequest>& requests, bool reuse, int64_t alignment) {
  ArenaAssignment out;
  out.offsets.assign(requests.size(), 0);
  if (!reuse) {
    for (size_t i = 0; i < requests.size(); ++i) {
      out.offsets[i] = out.arena_bytes;
      out.arena_bytes += align_up(requests[i].bytes, alignment);
    }
    return out;
  }
  std::vector<size_t> order(requests.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](size_t a, size_t b) {
    if (requests[a].bytes != requests[b].bytes) return requests[a].bytes > requests[b].bytes;
    return requests[a].first < requests[b].first;
  });
  // Placed allocations, indexed by the blocks of steps they live in: a new
  // request looks only at the blocks of its own lifetime instead of at
  // everything placed so far, which kept planning quadratic in depth.
  constexpr int kStepsPerBlock = 64;
  int last_step = 0;
  for (const AllocationRequest& r : requests) last_step = std::max(last_step, r.last);
  std::vector<std::vector<size_t>> placed_in_block(static_cast<size_t>(last_step / kStepsPerBlock + 1));
  std::vector<size_t> seen_for(requests.size(), SIZE_MAX);  // dedups requests spanning several blocks
  std::vector<std::pair<int64_t, int64_t>> busy;            // [offset, end) of placed allocations that overlap in time
  for (size_t r : order) {
    const int64_t size = align_up(requests[r].bytes, alignment);
    const int first_block = std::max(requests[r].first, 0) / kStepsPerBlock;
    const int last_block = std::max(requests[r].last, 0) / kStepsPerBlock;
    busy.clear();
    for (int block = first_block; block <= last_block; ++block) {
      for (size_t p : placed_in_block[block]) {
        if (seen_for[p] == r || !overlap_in_time(requests[r], requests[p])) continue;
        seen_for[p] = r;
        busy.emplace_back(out.offsets[p], out.offsets[p] + align_up(requests[p].bytes, alignment));
      }
    }
    std::sort(busy.begin(), busy.end());
    // Best fit: the smallest gap that holds `size`; else after the last.
    int64_t best_offset = -1, best_gap = 0, cursor = 0;
    for (const auto& [begin, end] : busy) {
      if (begin - cursor >= size && (best_offset < 0 || begin - cursor < best_gap)) {
        best_offset = cursor;
        best_gap = begin - cursor;
      }
      cursor = std::max(cursor, end);
    }
    out.offsets[r] = best_offset >= 0 ? best_offset : cursor;
    out.arena_bytes = std::max(out.arena_bytes, out.offsets[r] + size);
    for (int block = first_block; block <= last_block; ++block) placed_in_block[block].push_back(r);
  }
  return out;
}

}  // namespace reforge
