// The native code a model's launches resolve to, by symbol: the shared
// object an artifact carries (shared_code.h), or code the compiler
// generated in this process (its JIT, compiler/codegen/cpu/cpu_jit.h).
// runtime::Model runs either the same way.
#pragma once

#include <string>

#include "runtime/executor.h"

namespace reforge::runtime {

class Code {
 public:
  virtual ~Code() = default;
  // The kernel's entry point; null when the code has no such symbol.
  virtual KernelFunction find(const std::string& symbol) const = 0;
};

}  // namespace reforge::runtime
