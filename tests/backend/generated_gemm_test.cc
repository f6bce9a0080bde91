// The GEMM micro-kernel the compiler generates (compiler/codegen/cpu/
// gemm_micro_kernel) gives the same bits as the runtime's own copy on
// every shape the blocking produces: full blocks, edge rows and columns,
// depths over one 256-deep slice (accumulating), transposed operands and
// several threads. A compiled program's matmuls run on it.
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <vector>

#include "compiler/codegen/cpu/cpu_jit.h"
#include "compiler/codegen/cpu/gemm_micro_kernel.h"
#include "compiler/dsl/dsl.h"
#include "compiler/pipeline/cpu_executable.h"
#include "runtime/gemm.h"
#include "runtime/thread_pool.h"

namespace reforge {
namespace {

struct Shape {
  int64_t m, n, k;
  bool a_transposed, b_transposed;
};

std::vector<float> random_floats(int64_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> uniform(-1.0f, 1.0f);
  std::vector<float> out(count);
  for (float& x : out) x = uniform(rng);
  return out;
}

class GeneratedGemm : public ::testing::Test {
 protected:
  static void SetUpTestSuite() { jit_ = codegen::CpuJit::compile({}).release(); }
  static void TearDownTestSuite() { delete jit_; }
  static runtime::GemmMicroKernel generated() {
    return reinterpret_cast<runtime::GemmMicroKernel>(
        jit_->find(runtime::gemm_micro_kernel_symbol(runtime::host_gemm_block())));
  }
  static codegen::CpuJit* jit_;
};
codegen::CpuJit* GeneratedGemm::jit_ = nullptr;

TEST_F(GeneratedGemm, HasThisCpusBlock) { ASSERT_NE(generated(), nullptr); }

TEST_F(GeneratedGemm, SameBitsAsTheRuntimesCopy) {
  ASSERT_NE(generated(), nullptr);
  runtime::ThreadPool pool(2);
  const std::vector<Shape> shapes = {
      {1, 1, 1, false, false},    {7, 13, 5, false, false},       {8, 32, 256, false, false},
      {6, 16, 64, false, false},  {17, 45, 300, false, false},    {64, 128, 64, false, true},
      {128, 64, 64, true, false}, {130, 70, 513, true, true},     {256, 1024, 256, false, false},
      {9, 600, 40, false, true},  {1024, 256, 1024, false, false}};
  for (const Shape& s : shapes) {
    const std::vector<float> a = random_floats(s.m * s.k, 1), b = random_floats(s.k * s.n, 2);
    const runtime::GemmLayout layout = runtime::GemmLayout::dense(s.m, s.n, s.k, s.a_transposed, s.b_transposed);
    for (runtime::ThreadPool* threads : {static_cast<runtime::ThreadPool*>(nullptr), &pool}) {
      std::vector<float> own(s.m * s.n, -7.0f), made(s.m * s.n, 7.0f);
      runtime::gemm(a.data(), b.data(), own.data(), s.m, s.n, s.k, layout, threads);
      runtime::gemm(a.data(), b.data(), made.data(), s.m, s.n, s.k, layout, threads, generated());
      EXPECT_EQ(std::memcmp(own.data(), made.data(), own.size() * sizeof(float)), 0)
          << s.m << "x" << s.n << "x" << s.k << (s.a_transposed ? " A^T" : "") << (s.b_transposed ? " B^T" : "")
          << (threads ? ", 2 threads" : "");
    }
  }
}

// The block's symbol follows the target: 8 x 32 with AVX-512, 6 x 16 without.
TEST(GemmBlock, FollowsTheTargetsVectors) {
  EXPECT_EQ(runtime::gemm_micro_kernel_symbol(codegen::gemm_block_for(codegen::resolve_cpu_target("x86-64-v4"))),
            "reforge_gemm_f32_8x32");
  EXPECT_EQ(runtime::gemm_micro_kernel_symbol(codegen::gemm_block_for(codegen::resolve_cpu_target("x86-64-v3"))),
            "reforge_gemm_f32_6x16");
}

TEST(GeneratedGemmInPrograms, CompiledMatmulsRunOnIt) {
  Graph g("product");
  Tensor x = g.input("x", {DType::f32, {48, 40}});
  Tensor w = g.input("w", {DType::f32, {40, 24}});
  g.output("y", matmul(x, w));
  auto executable = CpuExecutable::build(g, {});
  EXPECT_TRUE(executable->executor().uses_generated_gemm());
}

}  // namespace
}  // namespace reforge
