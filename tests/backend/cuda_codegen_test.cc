// The CUDA back end's code generation, without a GPU: the GPU schedule,
// the rendered text (golden files), literals that must read back exactly,
// NVRTC's cubin and PTX for sm_90 and its report, and the error a source
// that does not compile gives.
#include <gtest/gtest.h>

#include <bit>
#include <cmath>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <limits>
#include <sstream>

#include "compiler/codegen/cuda/cuda_on_host.h"
#include "compiler/codegen/cuda/cuda_renderer.h"
#include "compiler/codegen/cuda/gpu_schedule.h"
#include "compiler/codegen/cuda/nvrtc_compiler.h"
#include "compiler/dsl/dsl.h"
#include "compiler/kernel/kernel_builder.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "compiler/target/cuda_target.h"

namespace reforge {
namespace {

using kir::BinaryOp;
using kir::KernelBuilder;

std::vector<kir::Kernel> cuda_kernels(const Graph& graph) {
  return lower_planned(plan_backend(graph, {}, {}, true, cuda_target())).lowered.kernels;
}

// ---- the schedule ----

TEST(GpuSchedule, CollapsesPerfectlyNestedLoopsOntoTheGrid) {
  KernelBuilder b("k");
  int out = b.buffer("y", DType::f32, 6 * 4 * 5, true);
  kir::ValueId i = b.begin_loop(6);
  kir::ValueId j = b.begin_loop(4);
  kir::ValueId k = b.begin_loop(5);
  kir::ValueId flat = b.add(b.mul(b.add(b.mul(i, b.index_constant(4)), j), b.index_constant(5)), k);
  b.store(out, flat, b.constant(DType::f32, 1));
  b.end_loop();
  b.end_loop();
  b.end_loop();
  kir::Kernel kernel = b.finish();
  codegen::GpuSchedule s = codegen::schedule_for_gpu(kernel);
  EXPECT_EQ(s.grid_extents, (std::vector<int64_t>{6, 4, 5}));
  EXPECT_EQ(s.threads_per_iteration, 20);
  ASSERT_EQ(s.thread_body->size(), 1u);
  EXPECT_EQ((*s.thread_body)[0].kind, kir::StmtKind::store);
}

TEST(GpuSchedule, KeepsAReductionInsideTheThread) {
  KernelBuilder b("k");
  int in = b.buffer("x", DType::f32, 3 * 7, false);
  int out = b.buffer("y", DType::f32, 3, true);
  kir::ValueId i = b.begin_loop(3);
  int acc = b.accumulator(DType::f32);
  b.assign(acc, b.constant(DType::f32, 0));
  kir::ValueId j = b.begin_loop(7);
  b.assign(acc, b.add(b.read(acc), b.load(in, b.add(b.mul(i, b.index_constant(7)), j))));
  b.end_loop();
  b.store(out, i, b.read(acc));
  b.end_loop();
  kir::Kernel kernel = b.finish();
  codegen::GpuSchedule s = codegen::schedule_for_gpu(kernel);
  EXPECT_EQ(s.grid_extents, (std::vector<int64_t>{3}));
  EXPECT_EQ(s.threads_per_iteration, 1);
  EXPECT_EQ(s.thread_body->size(), 3u);  // acc = 0; the reduction loop; the store
}

// ---- golden text ----

// tests/backend/golden/cuda/<name>.cu holds the rendered kernels of a
// small graph. After a deliberate change to the renderer, regenerate with
//   REFORGE_UPDATE_GOLDEN=1 bazel run //tests/backend:cuda_codegen_test
void expect_golden(const std::string& name, const std::string& text) {
  const std::string relative = "tests/backend/golden/cuda/" + name + ".cu";
  const char* workspace = std::getenv("BUILD_WORKSPACE_DIRECTORY");
  if (std::getenv("REFORGE_UPDATE_GOLDEN") && workspace) {
    std::ofstream(std::filesystem::path(workspace) / relative) << text;
    return;
  }
  std::ifstream in(relative);
  ASSERT_TRUE(in) << "no golden file " << relative;
  std::stringstream want;
  want << in.rdbuf();
  EXPECT_EQ(text, want.str()) << "the rendered CUDA differs from " << relative << "; regenerate it if the change is "
                              << "meant: REFORGE_UPDATE_GOLDEN=1 bazel run //tests/backend:cuda_codegen_test";
}

// The kernels alone (the prelude has its own golden file; the library's
// text is runtime/cuda_library_source.h).
std::string kernels_text(const std::vector<kir::Kernel>& kernels) {
  std::string all = codegen::render_cuda(kernels);
  return all.substr(codegen::render_cuda({}).size());
}

TEST(CudaRenderer, PreludeMatchesGolden) { expect_golden("prelude", codegen::cuda_prelude()); }

TEST(CudaRenderer, ElementwiseKernelMatchesGolden) {
  Graph g("elementwise");
  g.set_default_float(DType::f32);
  Tensor x = g.input("x", {DType::f32, {4, 8}});
  g.output("y", tanh(x * 2.0 + 1.0) * x);
  expect_golden("elementwise", kernels_text(cuda_kernels(g)));
}

TEST(CudaRenderer, RowReductionKernelMatchesGolden) {
  Graph g("row_sum");
  g.set_default_float(DType::f32);
  Tensor x = g.input("x", {DType::f32, {3, 5}});
  g.output("y", max(x, {1}));
  expect_golden("row_max", kernels_text(cuda_kernels(g)));
}

TEST(CudaRenderer, IntegerAndBooleanKernelMatchesGolden) {
  Graph g("integers");
  Tensor a = g.input("a", {DType::i64, {6}});
  Tensor b = g.input("b", {DType::i64, {6}});
  g.output("y", select(greater(a, b), floordiv(a, b), mod(a, b)));
  g.output("z", logical_not(equal(a, b)));
  expect_golden("integers", kernels_text(cuda_kernels(g)));
}

// ---- literals read back exactly ----

TEST(CudaRenderer, LiteralsReadBackBitForBit) {
  const std::vector<float> floats = {std::numeric_limits<float>::infinity(), -std::numeric_limits<float>::infinity(),
                                     std::numeric_limits<float>::quiet_NaN(),  -0.0f,
                                     std::numeric_limits<float>::denorm_min(), 0.1f,
                                     std::numeric_limits<float>::max(),        -3.0f};
  const std::vector<double> doubles = {-std::numeric_limits<double>::infinity(), 0.1, 1e-310, -0.0,
                                       std::numeric_limits<double>::max()};
  const std::vector<int64_t> longs = {std::numeric_limits<int64_t>::min(), -1, int64_t{1} << 53};
  const std::vector<int32_t> ints = {std::numeric_limits<int32_t>::min(), -7, std::numeric_limits<int32_t>::max()};
  KernelBuilder b("literals");
  int f = b.buffer("f", DType::f32, floats.size(), true);
  int d = b.buffer("d", DType::f64, doubles.size(), true);
  int l = b.buffer("l", DType::i64, longs.size(), true);
  int i = b.buffer("i", DType::i32, ints.size(), true);
  int t = b.buffer("t", DType::boolean, 2, true);
  b.begin_loop(1);
  for (size_t k = 0; k < floats.size(); ++k) b.store(f, b.index_constant(k), b.constant(DType::f32, floats[k]));
  for (size_t k = 0; k < doubles.size(); ++k) b.store(d, b.index_constant(k), b.constant(DType::f64, doubles[k]));
  for (size_t k = 0; k < longs.size(); ++k) {
    b.store(l, b.index_constant(k), b.constant(DType::i64, static_cast<double>(longs[k])));
  }
  for (size_t k = 0; k < ints.size(); ++k) b.store(i, b.index_constant(k), b.constant(DType::i32, ints[k]));
  b.store(t, b.index_constant(0), b.constant(DType::boolean, 1));
  b.store(t, b.index_constant(1), b.constant(DType::boolean, 0));
  b.end_loop();
  std::vector<kir::Kernel> kernels = {b.finish()};

  auto code = codegen::CudaOnHost::compile(kernels);
  std::vector<float> f_out(floats.size());
  std::vector<double> d_out(doubles.size());
  std::vector<int64_t> l_out(longs.size());
  std::vector<int32_t> i_out(ints.size());
  uint8_t t_out[2] = {7, 7};
  void* buffers[] = {f_out.data(), d_out.data(), l_out.data(), i_out.data(), t_out};
  runtime::KernelFunction run = code->find("literals");
  ASSERT_NE(run, nullptr);
  run(buffers, 0, 1);
  for (size_t k = 0; k < floats.size(); ++k) {
    EXPECT_EQ(std::bit_cast<uint32_t>(f_out[k]), std::bit_cast<uint32_t>(floats[k])) << "float " << floats[k];
  }
  for (size_t k = 0; k < doubles.size(); ++k) {
    EXPECT_EQ(std::bit_cast<uint64_t>(d_out[k]), std::bit_cast<uint64_t>(doubles[k])) << "double " << doubles[k];
  }
  EXPECT_EQ(l_out, longs);
  EXPECT_EQ(i_out, ints);
  EXPECT_EQ(t_out[0], 1);
  EXPECT_EQ(t_out[1], 0);

  codegen::CudaBinary binary = codegen::compile_cuda(codegen::render_cuda(kernels, /*with_library=*/false));
  ASSERT_EQ(binary.resources.size(), 1u);
  EXPECT_EQ(binary.resources[0].name, "literals");
}

// ---- NVRTC ----

TEST(Nvrtc, CompilesACubinAndPtxForSm90) {
  Graph g("elementwise");
  g.set_default_float(DType::f32);
  Tensor x = g.input("x", {DType::f32, {4, 8}});
  g.output("y", exp(x) + sum(x, {1}, true));
  std::vector<kir::Kernel> kernels = cuda_kernels(g);
  codegen::CudaBinary binary = codegen::compile_cuda(codegen::render_cuda(kernels, /*with_library=*/false));
  EXPECT_EQ(binary.sm, 90);
  ASSERT_GE(binary.cubin.size(), 4u);
  EXPECT_EQ(binary.cubin.substr(0, 4), "\x7f" "ELF");
  EXPECT_NE(binary.ptx.find(".target sm_90"), std::string::npos);
  ASSERT_EQ(binary.resources.size(), kernels.size());
  for (const codegen::KernelResources& r : binary.resources) {
    EXPECT_GT(r.registers, 0) << r.name;
    EXPECT_EQ(r.spill_store_bytes, 0) << r.name;
  }
}

TEST(Nvrtc, ACompileErrorShowsTheLogAndTheNumberedSource) {
  try {
    codegen::compile_cuda("extern \"C\" __global__ void k() {\n  undeclared_name = 1;\n}\n");
    FAIL() << "expected an error";
  } catch (const Error& e) {
    std::string message = e.what();
    EXPECT_NE(message.find("NVRTC could not compile"), std::string::npos) << message;
    EXPECT_NE(message.find("undeclared_name"), std::string::npos) << message;
    EXPECT_NE(message.find("    2 |   undeclared_name = 1;"), std::string::npos) << message;
  }
}

TEST(Nvrtc, ReadsPtxasReport) {
  const std::string log =
      "ptxas info    : 0 bytes gmem\n"
      "ptxas info    : Compiling entry function 'a' for 'sm_90'\n"
      "ptxas info    : Function properties for a\n"
      "ptxas         .     16 bytes stack frame, 8 bytes spill stores, 4 bytes spill loads\n"
      "ptxas info    : Used 40 registers, used 0 barriers\n"
      "ptxas info    : Compiling entry function 'b' for 'sm_90'\n"
      "ptxas info    : Function properties for b\n"
      "ptxas         .     0 bytes stack frame, 0 bytes spill stores, 0 bytes spill loads\n"
      "ptxas info    : Used 9 registers, used 0 barriers\n";
  std::vector<codegen::KernelResources> r = codegen::parse_ptxas_report(log);
  ASSERT_EQ(r.size(), 2u);
  EXPECT_EQ(r[0].name, "a");
  EXPECT_EQ(r[0].registers, 40);
  EXPECT_EQ(r[0].stack_bytes, 16);
  EXPECT_EQ(r[0].spill_store_bytes, 8);
  EXPECT_EQ(r[0].spill_load_bytes, 4);
  EXPECT_EQ(r[1].name, "b");
  EXPECT_EQ(r[1].registers, 9);
  EXPECT_EQ(r[1].spill_store_bytes, 0);
}

}  // namespace
}  // namespace reforge
