// Buffer assignment: places allocations with known lifetimes into one
// arena. Greedy by size (largest first), each into the best-fitting gap
// among the allocations it overlaps in time; the arena is the highest end.
#pragma once

#include <cstdint>
#include <vector>

namespace reforge {

struct AllocationRequest {
  int64_t bytes = 0;
  int first = 0;  // steps, inclusive
  int last = 0;
};

struct ArenaAssignment {
  std::vector<int64_t> offsets;  // per request
  int64_t arena_bytes = 0;
};

// With `reuse` false every allocation gets its own space, in request order.
ArenaAssignment assign_offsets(const std::vector<AllocationRequest>& requests, bool reuse, int64_t alignment);

}  // namespace reforge
