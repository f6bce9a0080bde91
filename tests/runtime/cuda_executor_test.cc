// The GPU executor (runtime/cuda_executor.h) and the GPU library
// (runtime/cuda_library.h) on a stand-in driver (fake_cuda_driver.cc)
// whose "GPU code" is the host build of the same CUDA translation unit:
// module loading, argument packing, grid sizes (the stand-in checks each
// launch's grid against the kernel's threads), copies only at the
// program's boundary, and the error paths. Every op case the GPU library
// covers runs against the interpreter, as the op-equivalence table does.
#include <gtest/gtest.h>

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <set>
#include <string>

#include "compiler/codegen/cuda/cuda_module.h"
#include "compiler/dsl/dsl.h"
#include "runtime/cuda_executor.h"
#include "runtime/cuda_library.h"
#include "runtime/library_calls.h"
#include "tests/testing/gpu_run.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/op_cases.h"

namespace reforge {
namespace {

using testing::feed;
using testing::GpuProgram;
using testing::lower_for_gpu;
using testing::output;
using testing::runs_on_gpu;

runtime::CudaCode host_code(const std::vector<kir::Kernel>& kernels) { return testing::host_cuda_code(kernels); }

ValueMap run_on_gpu(const Graph& graph, const ValueMap& feeds, const GpuProgram& g) {
  return testing::run_on_gpu(graph, feeds, g, host_code(g.kernels));
}

// Every op case whose library calls the GPU library has, against the
// interpreter with the op-equivalence table's tolerance: the generated
// kernels and the library's on the GPU executor. In f64 (f32 runs the
// same templates; the generated kernels run in f32 in
// op_equivalence_cuda_on_host_test).
TEST(CudaExecutor, OpCasesMatchTheInterpreter) {
  int ran = 0, with_library = 0;
  std::set<std::string> functions;
  for (const testing::OpCase& c : testing::all_op_cases()) {
    for (DType float_type : {DType::f64}) {
      testing::BuiltGraph b = testing::op_case_graph(c, float_type, true);
      GpuProgram g = lower_for_gpu(*b.graph);
      if (!runs_on_gpu(g.program)) continue;
      ValueMap got = run_on_gpu(*b.graph, b.feeds, g);
      ValueMap want = run_graph(*b.graph, b.feeds);
      int64_t longest = 1;
      for (const auto& [name, value] : b.feeds) longest = std::max(longest, value.size());
      for (const auto& [name, expected] : want) {
        const HostTensor& value = got.at(name);
        ASSERT_EQ(value.type, expected.type) << c.name << " " << name;
        const double tolerance = testing::op_tolerance(expected.dtype(), longest);
        for (int64_t i = 0; i < expected.size(); ++i) {
          ASSERT_LE(std::fabs(value[i] - expected[i]), tolerance * (1 + std::fabs(expected[i])))
              << c.name << " " << dtype_name(float_type) << " output " << name << " element " << i;
        }
      }
      ++ran;
      for (const runtime::Launch& l : g.program.launches) {
        if (l.kind != runtime::Launch::Kind::library) continue;
        ++with_library;
        functions.insert(l.function);
      }
    }
  }
  EXPECT_GT(ran, 125) << "too few op cases run on the GPU library";
  EXPECT_GT(with_library, 50) << "too few library calls ran";
  // Every function of the GPU library met at least one case, but the
  // fused attention calls: the fusion passes make them, which op cases do
  // not run (cuda_lsh_attention_test and the training steps below hold
  // them). The collectives have no GPU implementation.
  for (const std::string_view f : runtime::library_function_names()) {
    if (runtime::has_cuda_implementation(std::string(f)) && f.find("attention") == std::string_view::npos) {
      EXPECT_TRUE(functions.count(std::string(f))) << f;
    }
  }
}

// Sorting, random numbers and integer indexing agree bit for bit.
TEST(CudaExecutor, ExactCasesAreBitExact) {
  int ran = 0;
  for (const testing::OpCase& c : testing::exact_cases()) {
    testing::BuiltGraph b = testing::op_case_graph(c, DType::f32, false);
    GpuProgram g = lower_for_gpu(*b.graph);
    if (!runs_on_gpu(g.program)) continue;
    ValueMap got = run_on_gpu(*b.graph, b.feeds, g);
    ValueMap want = run_graph(*b.graph, b.feeds);
    EXPECT_EQ(got.at("y").data, want.at("y").data) << c.name;
    ++ran;
  }
  EXPECT_GE(ran, 20);
}

TEST(CudaExecutor, AnIndexOutOfRangeNamesItsLaunch) {
  Graph g("take");
  g.set_default_float(DType::f32);
  Tensor x = g.input("x", {DType::f32, {5, 3}});
  Tensor idx = g.input("idx", {DType::i64, {4}});
  g.output("y", take(x, idx, 0));
  GpuProgram p = lower_for_gpu(g);
  runtime::CudaExecutor gpu(p.program, host_code(p.kernels));
  feed(gpu, {{"x", HostTensor(TensorType{DType::f32, {5, 3}}, std::vector<double>(15, 1.0))},
             {"idx", HostTensor(TensorType{DType::i64, {4}}, {0, 4, 7, 1})}});
  std::string message;
  try {
    gpu.run();
  } catch (const Error& e) {
    message = e.what();
  }
  EXPECT_NE(message.find("take for "), std::string::npos) << message;
  EXPECT_NE(message.find("an index is out of range"), std::string::npos) << message;
}

// Whole training steps with LSH, local and full attention: loss, metrics
// and every parameter and moment after one Adam step, on the GPU executor
// against the interpreter.
TEST(CudaExecutor, TrainingStepsMatchTheInterpreter) {
  for (const auto& [name, config] : testing::gpu_training_step_configs()) {
    EXPECT_LT(testing::gpu_training_step_difference(config, [](const GpuProgram& g) { return host_code(g.kernels); }),
              1e-9)
        << name;
  }
}

// Products run on cuBLAS where it loads (here the stand-in, which
// computes column-major GEMMs as cuBLAS defines them) and on the GPU
// library's own kernel otherwise: both against the interpreter, with
// operands stored transposed, a batch, and a bias and activation (a GEMM
// epilogue: the bias is put into C first, then the product added).
TEST(CudaExecutor, ProductsRunOnCublasOrOnTheLibraryKernel) {
  Graph g("products");
  g.set_default_float(DType::f64);
  Tensor a = g.input("a", {DType::f64, {3, 5, 4}});
  Tensor b = g.input("b", {DType::f64, {3, 6, 4}});
  Tensor x = g.input("x", {DType::f64, {5, 4}});
  Tensor w = g.input("w", {DType::f64, {7, 4}});
  Tensor bias = g.input("bias", {DType::f64, {7}});
  g.output("a_bt", matmul(a, transpose(b, {0, 2, 1})));
  g.output("at_a", matmul(transpose(a, {0, 2, 1}), a));
  g.output("linear", gelu(matmul(x, transpose(w, {1, 0})) + bias));
  ValueMap feeds;
  uint64_t seed = 0;
  for (const char* name : {"a", "b", "x", "w", "bias"}) {
    feeds[name] = testing::random_tensor({g.node(g.find_node(name)).type}, ++seed);
  }
  const ValueMap want = run_graph(g, feeds);
  GpuProgram p = lower_for_gpu(g);
  const runtime::CudaCode code = host_code(p.kernels);
  for (bool cublas : {true, false}) {
    runtime::CudaExecutor gpu(p.program, code, {.cublas = cublas});
    EXPECT_EQ(gpu.uses_cublas(), cublas);
    feed(gpu, feeds);
    gpu.run();
    for (const auto& [name, expected] : want) {
      const HostTensor got = output(gpu, name);
      for (int64_t i = 0; i < expected.size(); ++i) {
        ASSERT_NEAR(got[i], expected[i], 1e-12 * (1 + std::fabs(expected[i]))) << name << " " << i << " cublas " << cublas;
      }
    }
  }
}

// One small program used by the checks below.
GpuProgram small_program() {
  Graph g("small");
  g.set_default_float(DType::f32);
  Tensor x = g.input("x", {DType::f32, {300, 7}});
  g.output("y", sum(tanh(x) * 2.0, {1}));
  g.output("z", exp(x));
  return lower_for_gpu(g);
}

TEST(CudaExecutor, GridsCoverEachLaunchExactly) {
  GpuProgram g = small_program();
  runtime::CudaCode code = host_code(g.kernels);
  runtime::CudaExecutor gpu(g.program, code);
  std::vector<runtime::CudaExecutor::LaunchShape> shapes = gpu.launch_shapes();
  ASSERT_EQ(shapes.size(), g.program.launches.size());
  for (size_t i = 0; i < shapes.size(); ++i) {
    const runtime::Launch& l = g.program.launches[i];
    int64_t per_iteration = 0;
    for (const runtime::CudaKernel& k : code.kernels) per_iteration = k.name == l.function ? k.threads_per_iteration : per_iteration;
    EXPECT_EQ(shapes[i].threads_per_block, 256);
    EXPECT_EQ(shapes[i].blocks, (l.extent * per_iteration + 255) / 256) << l.node;
  }
}

TEST(CudaExecutor, CopiesOnlyAtTheProgramsBoundary) {
  const std::filesystem::path log = std::filesystem::path(std::getenv("TEST_TMPDIR")) / "driver.log";
  setenv("FAKE_CUDA_LOG", log.c_str(), 1);
  GpuProgram g = small_program();
  {
    runtime::CudaExecutor gpu(g.program, host_code(g.kernels));
    feed(gpu, {{"x", HostTensor(TensorType{DType::f32, {300, 7}}, std::vector<double>(2100, 0.5))}});
    gpu.run();
    gpu.run();
    EXPECT_NEAR(output(gpu, "z")[0], std::exp(0.5), 1e-6);
  }
  unsetenv("FAKE_CUDA_LOG");
  std::ifstream in(log);
  int to_device = 0, to_host = 0, launches = 0, allocations = 0, frees = 0;
  for (std::string line; std::getline(in, line);) {
    to_device += line.starts_with("to device");
    to_host += line.starts_with("to host");
    launches += line.starts_with("launch");
    allocations += line.starts_with("alloc");
    frees += line == "free";
  }
  EXPECT_EQ(to_device, 1);  // the input
  EXPECT_EQ(to_host, 1);    // the output read
  EXPECT_EQ(launches, 2 * static_cast<int>(g.program.launches.size()));
  EXPECT_EQ(allocations, 1 + static_cast<int>(g.program.slots.size()));  // the arena and each slot, once
  EXPECT_EQ(frees, allocations);
}

std::string error_of(const std::function<void()>& f) {
  try {
    f();
  } catch (const Error& e) {
    return e.what();
  }
  return "(no error)";
}

TEST(CudaExecutor, AFailingLaunchNamesItsKernelNodeAndLine) {
  GpuProgram g = small_program();
  runtime::CudaExecutor gpu(g.program, host_code(g.kernels));
  const runtime::Launch& last = g.program.launches.back();
  setenv("FAKE_CUDA_FAIL_KERNEL", last.function.c_str(), 1);
  std::string message = error_of([&] { gpu.run(); });
  unsetenv("FAKE_CUDA_FAIL_KERNEL");
  EXPECT_NE(message.find("GPU kernel " + last.function + " for " + last.node), std::string::npos) << message;
  EXPECT_NE(message.find("cuda_executor_test.cc:"), std::string::npos) << message;
  EXPECT_NE(message.find("CUDA_ERROR_LAUNCH_FAILED"), std::string::npos) << message;
}

TEST(CudaExecutor, RefusesLibraryCallsWithoutAGpuImplementation) {
  Graph g("sum_over_replicas");
  g.set_default_float(DType::f32);
  g.output("y", replica_sum(g.input("x", {DType::f32, {4, 8}})));
  GpuProgram p = lower_for_gpu(g);
  std::string message = error_of([&] { runtime::CudaExecutor gpu(p.program, host_code(p.kernels)); });
  EXPECT_NE(message.find("no GPU implementation yet: all_reduce"), std::string::npos) << message;
}

// A forged program cannot point a GPU kernel outside its memory.
TEST(CudaExecutor, RefusesABufferOutsideItsMemory) {
  GpuProgram g = small_program();
  runtime::Program forged = g.program;
  runtime::BufferRef& b = forged.launches.back().buffers.back();
  b.slot = -1;
  b.offset = forged.arena_bytes;
  std::string message = error_of([&] { runtime::CudaExecutor gpu(forged, host_code(g.kernels)); });
  EXPECT_NE(message.find("lies outside its memory"), std::string::npos) << message;
}

TEST(CudaExecutor, RefusesAProgramLargerThanFreeMemory) {
  GpuProgram g = small_program();
  setenv("FAKE_CUDA_FREE_MIB", "0", 1);
  std::string message = error_of([&] { runtime::CudaExecutor gpu(g.program, host_code(g.kernels)); });
  unsetenv("FAKE_CUDA_FREE_MIB");
  EXPECT_NE(message.find("bytes of GPU memory; GPU 0 (Fake GPU) has 0 free"), std::string::npos) << message;
}

TEST(CudaExecutor, CodeTheGpuCannotLoadIsRefused) {
  GpuProgram g = small_program();
  // Real sm_90 code: the stand-in, like a GPU of another kind, loads neither.
  runtime::CudaCode real = codegen::compile_cuda_code(g.kernels);
  std::string message = error_of([&] { runtime::CudaExecutor gpu(g.program, real); });
  EXPECT_NE(message.find("loading the GPU code (the sm_90 cubin failed with CUDA_ERROR_INVALID_IMAGE; its PTX)"),
            std::string::npos)
      << message;
  EXPECT_NE(message.find("CUDA_ERROR_INVALID_PTX"), std::string::npos) << message;
}

}  // namespace
}  // namespace reforge
