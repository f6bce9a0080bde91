#include "tests/testing/backend_under_test.h"

#include <cstdlib>

#include "base/error.h"
#include "compiler/codegen/cuda/cuda_on_host.h"
#include "compiler/target/cpu_target.h"
#include "compiler/target/cuda_target.h"

namespace reforge::testing {

BackendUnderTest backend_under_test() {
  const char* chosen = std::getenv("REFORGE_TEST_BACKEND");
  std::string name = chosen && *chosen ? chosen : "llvm_cpu";
  if (name == "llvm_cpu") return {name, &cpu_target(), {}};
  if (name == "cuda_on_host") {
    BackendUnderTest b{name, &cuda_target(), {}};
    b.options.kernel_code = [](const std::vector<kir::Kernel>& kernels) {
      return codegen::CudaOnHost::compile(kernels);
    };
    return b;
  }
  throw Error("REFORGE_TEST_BACKEND must be llvm_cpu or cuda_on_host, got '" + name + "'");
}

}  // namespace reforge::testing
