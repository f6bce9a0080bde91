// The GPU check: what can be held against the interpreter on a real GPU
// today, in one program without LLVM (scripts/gpu_check.sh carries it to a
// lent GPU machine). For GPU 0:
//   - every op case the GPU library covers, in f64 and f32, generated
//     kernels and library kernels compiled by NVRTC for the GPU's
//     architecture, against the interpreter with the op-equivalence
//     table's tolerance; the exact cases bit for bit;
//   - whole training steps with local and full attention (one Adam step),
//     loss, metrics and every updated parameter and moment to 1e-9 in f64.
// Ends with "N passed, M failed" and exits 1 on any failure.
//
//   gpu_check [--host_code] [--every=N]
// --host_code builds the kernels for the host instead (a stand-in driver
// runs them: how this program is tested without a GPU); --every=N checks
// every N-th op case only.
#include <fmt/format.h>

#include <algorithm>
#include <cmath>
#include <cstring>
#include <string>

#include "runtime/cublas.h"
#include "runtime/cuda_driver.h"
#include "tests/testing/gpu_run.h"
#include "tests/testing/op_cases.h"

namespace reforge {
namespace {

struct Tally {
  int passed = 0, failed = 0;
  void record(bool ok, const std::string& what, const std::string& detail) {
    ok ? ++passed : ++failed;
    if (!ok) fmt::print("FAIL {}: {}\n", what, detail);
  }
};

int run(bool host_code, int every) {
  const runtime::CudaDeviceInfo gpu = runtime::CudaDriver::get().device(0);
  fmt::print("GPU 0: {} (sm_{}), {:.1f} GiB free; kernels {}\n", gpu.name, gpu.sm, gpu.free_bytes / 1073741824.0,
             host_code ? "built for the host (stand-in driver)" : fmt::format("from NVRTC for sm_{}", gpu.sm));
  fmt::print("matrix products on {}\n", runtime::Cublas::get()
                                             ? std::string("cuBLAS")
                                             : "the GPU library's kernel: " + runtime::Cublas::unavailable_reason());
  auto code_for = [&](const testing::GpuProgram& g) {
    return host_code ? testing::host_cuda_code(g.kernels) : testing::nvrtc_cuda_code(g.kernels, gpu.sm);
  };
  Tally tally;

  int index = 0;
  for (const testing::OpCase& c : testing::all_op_cases()) {
    if (index++ % every != 0) continue;
    for (DType float_type : {DType::f64, DType::f32}) {
      const std::string what = fmt::format("op case {} ({})", c.name, dtype_name(float_type));
      try {
        testing::BuiltGraph b = testing::op_case_graph(c, float_type, true);
        testing::GpuProgram g = testing::lower_for_gpu(*b.graph);
        if (!testing::runs_on_gpu(g.program)) continue;
        ValueMap got = testing::run_on_gpu(*b.graph, b.feeds, g, code_for(g));
        ValueMap want = run_graph(*b.graph, b.feeds);
        int64_t longest = 1;
        for (const auto& [name, value] : b.feeds) longest = std::max(longest, value.size());
        std::string detail;
        for (const auto& [name, expected] : want) {
          double worst = testing::worst_relative_difference(got.at(name), expected);
          if (worst > testing::op_tolerance(expected.dtype(), longest)) {
            detail += fmt::format("{} off by {:.3g}; ", name, worst);
          }
        }
        tally.record(detail.empty(), what, detail);
      } catch (const std::exception& e) {
        tally.record(false, what, e.what());
      }
    }
  }
  for (const testing::OpCase& c : testing::exact_cases()) {
    const std::string what = "exact case " + c.name;
    try {
      testing::BuiltGraph b = testing::op_case_graph(c, DType::f32, false);
      testing::GpuProgram g = testing::lower_for_gpu(*b.graph);
      if (!testing::runs_on_gpu(g.program)) continue;
      ValueMap got = testing::run_on_gpu(*b.graph, b.feeds, g, code_for(g));
      tally.record(got.at("y").data == run_graph(*b.graph, b.feeds).at("y").data, what, "differs");
    } catch (const std::exception& e) {
      tally.record(false, what, e.what());
    }
  }

  for (const auto& [name, config] : testing::gpu_training_step_configs()) {
    const std::string what = fmt::format("training step ({})", name);
    try {
      double worst = testing::gpu_training_step_difference(config, code_for);
      tally.record(worst < 1e-9, what, fmt::format("off by {:.3g}", worst));
    } catch (const std::exception& e) {
      tally.record(false, what, e.what());
    }
  }
  fmt::print("{} passed, {} failed\n", tally.passed, tally.failed);
  return tally.failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace reforge

int main(int argc, char** argv) {
  bool host_code = false;
  int every = 1;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--host_code") == 0) {
      host_code = true;
    } else if (std::strncmp(argv[i], "--every=", 8) == 0 && std::atoi(argv[i] + 8) > 0) {
      every = std::atoi(argv[i] + 8);
    } else {
      fmt::print(stderr, "usage: gpu_check [--host_code] [--every=N]\n");
      return 2;
    }
  }
  try {
    return reforge::run(host_code, every);
  } catch (const std::exception& e) {
    fmt::print(stderr, "gpu_check: {}\n", e.what());
    return 1;
  }
}
