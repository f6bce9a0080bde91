// Counts heap allocations (every operator new, aligned or not, on every
// thread) while a CountingAllocations is alive. Linking this library
// replaces the program's operator new; under AddressSanitizer, which owns
// operator new (replacing it mixes two allocators), nothing is replaced
// and counting_allocations() is false: tests skip.
#pragma once

#include <cstdint>

namespace reforge::testing {

bool counting_allocations();

class CountingAllocations {
 public:
  CountingAllocations();
  ~CountingAllocations();
  CountingAllocations(const CountingAllocations&) = delete;
  CountingAllocations& operator=(const CountingAllocations&) = delete;

  // Allocations since construction.
  int64_t count() const;
};

}  // namespace reforge::testing
