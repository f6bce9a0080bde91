// The back end a test binary checks against the interpreter: LLVM code for
// this CPU by default, or, with REFORGE_TEST_BACKEND=cuda_on_host, the CUDA
// back end's kernels built for the host (compiler/codegen/cuda/
// cuda_on_host.h). tests/backend/BUILD runs the same sources both ways.
#pragma once

#include <string>

#include "compiler/pipeline/cpu_executable.h"
#include "compiler/target/target.h"

namespace reforge::testing {

struct BackendUnderTest {
  std::string name;  // "llvm_cpu" or "cuda_on_host"
  const Target* target = nullptr;
  CpuBuildOptions options;  // with the kernels' code
};

BackendUnderTest backend_under_test();

}  // namespace reforge::testing
