// One valid call of every function in the runtime library's catalogue
// (runtime/library_calls.h), small enough to run: the tests forge calls
// from these, and check that the table covers the whole catalogue.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace reforge::testing {

struct LibraryCallSample {
  std::string function;
  std::vector<int64_t> ints;
  std::vector<int64_t> buffer_bytes;  // exactly what the call needs
};

std::vector<LibraryCallSample> library_call_samples();

}  // namespace reforge::testing
