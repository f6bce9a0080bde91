// The GPU check: what can be held against the interpreter on a real GPU
// today, in one program without LLVM (scripts/gpu_check.sh carries it to a
// lent GPU machine). For GPU 0:
//   - every op case the GPU library covers, in f64 and f32, generated
//     kernels and library kernels compiled by NVRTC for the GPU's
//     architecture, against the interpreter with the op-equivalence
//     table's tolerance; the exact cases bit for bit;
//   - whole training steps with LSH, local and full attention (one Adam step),
//     loss, metrics and every updated parameter and moment to 1e-9 in f64.
//   - with --artifacts=DIR (scripts/gpu_check.sh builds them): P1's CPU
//     artifact (p1_cpu.rfa, L = 1K) and CUDA artifact (p1_cuda_1024.rfa)
//     trained side by side through runtime::Model for three Adam steps:
//     each loss to 1e-4, every parameter and moment to 1e-3; their decode
//     steps (a prefill and 32 one-token steps) to 1e-3 and the GPU's
//     cached bytes/s; then each p1_cuda_<L>.rfa's median step time and
//     the GPU memory its model took against its plan.
// Ends with "N passed, M failed" and exits 1 on any failure.
//
//   gpu_check [--host_code] [--every=N] [--artifacts=DIR]
// --host_code builds the kernels for the host instead (a stand-in driver
// runs them: how this program is tested without a GPU); --every=N checks
// every N-th op case only.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstring>
#include <filesystem>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "runtime/cublas.h"
#include "runtime/cuda_driver.h"
#include "runtime/reforge_runtime.h"
#include "tests/testing/gpu_run.h"
#include "tests/testing/model_pair.h"
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

// Generation on the GPU: a prefill and one-token steps against the CPU's
// logits (with the parameters both models hold now), then the GPU's
// bytes/s for 200 cached bytes.
void check_generation(runtime::Model& gpu, runtime::Model& cpu, Tally& tally) {
  if (!gpu.can_decode() || !cpu.can_decode()) {
    tally.record(false, "P1 decode step", "an artifact has no decode entry points (compile them again)");
    return;
  }
  double worst = 0;
  auto compare = [&](std::span<const float> got, std::span<const float> want) {
    for (size_t i = 0; i < std::min(got.size(), want.size()); ++i) {
      worst = std::max(worst, static_cast<double>(std::fabs(got[i] - want[i]) / (1 + std::fabs(want[i]))));
    }
  };
  const std::vector<int64_t> context = {'T', 'h', 'e', ' '};
  std::span<const float> prefilled = cpu.decode_prefill(context);
  std::vector<float> want(prefilled.begin(), prefilled.end());
  compare(gpu.decode_prefill(context), want);
  for (int64_t t = 4; t < 36; ++t) {
    std::span<const float> logits = cpu.decode('a' + t % 26, t);
    want.assign(logits.begin(), logits.end());
    compare(gpu.decode('a' + t % 26, t), want);
  }
  tally.record(worst < 1e-3, "P1 decode: prefill and 32 steps, GPU against CPU", fmt::format("off by {:.3g}", worst));
  const auto started = std::chrono::steady_clock::now();
  const std::string text = gpu.generate("The ", 200, {.top_k = 1}, 1);
  const double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count();
  fmt::print("  decode: logits within {:.3g} of the CPU's; 200 cached bytes in {:.3f} s ({:.0f} bytes/s)\n", worst,
             seconds, 200 / seconds);
}

// P1 through runtime::Model: the GPU against the CPU, then step times and
// memory at each length there is an artifact for.
void check_artifacts(const std::filesystem::path& dir, Tally& tally) {
  constexpr int64_t kVocab = 256;
  const std::filesystem::path cpu_path = dir / "p1_cpu.rfa", gpu_path = dir / "p1_cuda_1024.rfa";
  try {
    std::unique_ptr<runtime::Model> cpu = runtime::Model::open(cpu_path.string());
    std::unique_ptr<runtime::Model> gpu = runtime::Model::open(gpu_path.string());
    fmt::print("P1 at L = 1024 on {} against the CPU ({} threads)\n", gpu->train_step().machine(), cpu->threads());
    const testing::PairDifference d = testing::train_side_by_side(*gpu, *cpu, 3, kVocab, 1);
    tally.record(d.loss < 1e-4, "P1 losses, GPU against CPU", fmt::format("off by {:.3g}", d.loss));
    tally.record(d.persistent < 1e-3, "P1 parameters after 3 Adam steps", fmt::format("off by {:.3g}", d.persistent));
    fmt::print("  losses within {:.3g}, parameters within {:.3g}\n", d.loss, d.persistent);
    check_generation(*gpu, *cpu, tally);
  } catch (const std::exception& e) {
    tally.record(false, "P1 side by side", e.what());
  }
  std::vector<std::pair<int64_t, std::filesystem::path>> lengths;
  for (const auto& file : std::filesystem::directory_iterator(dir)) {
    const std::string name = file.path().filename().string();
    if (name.starts_with("p1_cuda_") && name.ends_with(".rfa")) {
      lengths.emplace_back(std::atoll(name.c_str() + 8), file.path());
    }
  }
  std::sort(lengths.begin(), lengths.end());
  fmt::print("{:>8} {:>14} {:>12} {:>14} {:>14}\n", "L", "median step", "tokens/s", "GPU memory", "planned");
  for (const auto& [length, path] : lengths) {
    const std::string what = fmt::format("P1 step at L = {}", length);
    try {
      const int64_t free_before = runtime::CudaDriver::get().device(0).free_bytes;
      std::unique_ptr<runtime::Model> gpu = runtime::Model::open(path.string());
      const int64_t used = free_before - runtime::CudaDriver::get().device(0).free_bytes;
      int64_t planned = 0;
      for (const char* name : {"train_step", "forward"}) {
        if (runtime::Entry* e = gpu->entry(name)) {
          planned += e->program().arena_bytes;
          for (const runtime::Slot& slot : e->program().slots) planned += slot.type.bytes();
        }
      }
      gpu->initialise(1);
      std::vector<double> seconds;
      for (int step = 0; step < 6; ++step) {
        testing::feed_synthetic(gpu->train_step(), step, kVocab);
        const auto started = std::chrono::steady_clock::now();
        gpu->step();
        if (step > 0)
          seconds.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - started).count());
      }
      std::sort(seconds.begin(), seconds.end());
      const double median = seconds[seconds.size() / 2];
      const float loss = gpu->train_step().output_as<float>("loss")[0];
      tally.record(std::isfinite(loss), what, fmt::format("loss {}", loss));
      fmt::print("{:>8} {:>13.4f}s {:>12.0f} {:>11.1f} MiB {:>10.1f} MiB\n", length, median, length / median,
                 used / 1048576.0, planned / 1048576.0);
    } catch (const std::exception& e) {
      tally.record(false, what, e.what());
    }
  }
}

int run(bool host_code, int every, const std::string& artifacts) {
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
  if (!artifacts.empty()) check_artifacts(artifacts, tally);
  fmt::print("{} passed, {} failed\n", tally.passed, tally.failed);
  return tally.failed == 0 ? 0 : 1;
}

}  // namespace
}  // namespace reforge

int main(int argc, char** argv) {
  bool host_code = false;
  int every = 1;
  std::string artifacts;
  for (int i = 1; i < argc; ++i) {
    if (std::strcmp(argv[i], "--host_code") == 0) {
      host_code = true;
    } else if (std::strncmp(argv[i], "--every=", 8) == 0 && std::atoi(argv[i] + 8) > 0) {
      every = std::atoi(argv[i] + 8);
    } else if (std::strncmp(argv[i], "--artifacts=", 12) == 0) {
      artifacts = argv[i] + 12;
    } else {
      fmt::print(stderr, "usage: gpu_check [--host_code] [--every=N] [--artifacts=DIR]\n");
      return 2;
    }
  }
  try {
    return reforge::run(host_code, every, artifacts);
  } catch (const std::exception& e) {
    fmt::print(stderr, "gpu_check: {}\n", e.what());
    return 1;
  }
}
