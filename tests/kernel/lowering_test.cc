// Lowering to kernel IR, pinned as text (golden), and the CPU code the
// kernels become: verified LLVM IR whose elementwise loops vectorise.
#include <gtest/gtest.h>

#include <regex>
#include <set>

#include "compiler/autodiff/training_step.h"
#include "compiler/codegen/cpu/cpu_jit.h"
#include "compiler/codegen/cpu/llvm_target.h"
#include "compiler/dsl/dsl.h"
#include "compiler/kernel/kernel_builder.h"
#include "compiler/lower/lower.h"
#include "compiler/pipeline/cpu_executable.h"

namespace reforge {
namespace {

std::string lowered_text(const Graph& g) {
  KernelGrouping grouping = kernel_grouping(g, true);
  MemoryPlan plan = plan_memory(g, {}, {}, grouping);
  LoweredProgram p = lower_program(g, plan, grouping);
  std::string text;
  for (const runtime::Launch& l : p.program.launches) {
    text += (l.kind == runtime::Launch::Kind::kernel ? "launch " : "call ") + l.function + " for " + l.node + "\n";
  }
  for (const kir::Kernel& k : p.kernels) text += kir::print_kernel(k);
  return text;
}

// An elementwise group with a broadcast inside, absorbed by the reduction
// that reads it: one kernel, the broadcast read through its index map, no
// buffer for y.
TEST(Lowering, ElementwiseGroupFusedIntoReductionGolden) {
  Graph g("golden");
  Tensor x = g.input("x", {DType::f32, {2, 3}});
  Tensor b = g.input("b", {DType::f32, {3}});
  Tensor y = (exp(x) + b).named("y");
  g.output("s", sum(y, {1}).named("s"));
  EXPECT_EQ(lowered_text(g), R"(launch reforge_k0 for s
kernel reforge_k0(out0: f32[2] s, in1: f32[6] x, in2: f32[3] b) with acc0: f32
  parallel for i0 in [0, 2):
    acc0 = 0:f32
    for i1 in [0, 3):
      %6 = mul i0, 3
      %7 = add %6, i1
      %8 = load in1[%7]
      %9 = exp %8
      %10 = load in2[i1]
      %11 = add %9, %10
      %13 = add acc0, %11
      acc0 = %13
    store out0[i0] = acc0
)");
}

// Softmax: two passes of accumulation (max, then sum of exp(x - max)) and
// a third that writes.
TEST(Lowering, SoftmaxGolden) {
  Graph g("softmax");
  Tensor x = g.input("x", {DType::f32, {4}});
  g.output("p", softmax(x, 0).named("p"));
  EXPECT_EQ(lowered_text(g), R"(launch reforge_k0 for p
kernel reforge_k0(out0: f32[4] p, in1: f32[4] x) with acc0: f32, acc1: f32
  parallel for i0 in [0, 1):
    acc0 = -inf:f32
    for i1 in [0, 4):
      %5 = load in1[i1]
      %8 = lt acc0, %5
      %9 = select %8, %5, acc0
      acc0 = %9
    acc1 = 0:f32
    for i2 in [0, 4):
      %13 = load in1[i2]
      %14 = sub %13, acc0
      %15 = exp %14
      %17 = add acc1, %15
      acc1 = %17
    for i3 in [0, 4):
      %20 = load in1[i3]
      %21 = sub %20, acc0
      %22 = exp %21
      %23 = div %22, acc1
      store out0[i3] = %23
)");
}

// Kernels that compute alike are generated once.
TEST(Lowering, IdenticalKernelsAreShared) {
  Graph g("shared");
  Tensor x = g.input("x", {DType::f32, {8}});
  Tensor a = tanh(x).named("a");
  Tensor b = tanh(a).named("b");
  g.output("b", b);
  KernelGrouping none;
  MemoryPlan plan = plan_memory(g, {}, {}, none);
  LoweredProgram p = lower_program(g, plan, none);
  ASSERT_EQ(p.program.launches.size(), 2u);
  EXPECT_EQ(p.kernels.size(), 1u);
  EXPECT_EQ(p.program.launches[0].function, p.program.launches[1].function);
}

// A transpose of the matrix axes feeding a GEMM is its operand flag: no
// transpose kernel, no buffer; the call reads the untransposed input.
TEST(Lowering, TransposeFeedingAMatmulBecomesAnOperandFlag) {
  Graph g("gemm");
  Tensor x = g.input("x", {DType::f32, {2, 5, 3}});
  Tensor w = g.input("w", {DType::f32, {2, 4, 5}});
  g.output("y", matmul(swap_last_axes(x), swap_last_axes(w)).named("y"));
  KernelGrouping grouping = kernel_grouping(g, true);
  MemoryPlan plan = plan_memory(g, {}, {}, grouping);
  EXPECT_EQ(plan.buffers.size(), 1u);  // only y
  LoweredProgram p = lower_program(g, plan, grouping);
  ASSERT_EQ(p.program.launches.size(), 1u);
  const runtime::Launch& call = p.program.launches[0];
  EXPECT_EQ(call.function, "matmul");
  EXPECT_EQ(call.ints, (std::vector<int64_t>{0, 2, 3, 4, 5, 1, 1}));  // f32, batch 2, m 3, n 4, k 5, A^T, B^T
  EXPECT_EQ(call.buffers[0].slot, p.program.slots[0].name == "x" ? 0 : 1);
}

// The Adam update of a parameter is one kernel that writes the parameter's
// next value and both moments' next values.
TEST(Lowering, AdamUpdateIsOneMultiOutputKernel) {
  Graph g("adam");
  Tensor x = g.input("x", {DType::f32, {4, 3}});
  Tensor w = g.param("w", {3, 5});
  TrainingStep step = build_training_step(g, mean_all(tanh(matmul(x, w))), {.learning_rate = 1e-2});
  ValueProvenance provenance;  // the next values get slots of their own
  for (const CarriedValue& c : step.carried) provenance.update_outputs.insert(c.next);
  KernelGrouping grouping = kernel_grouping(g, true);
  MemoryPlan plan = plan_memory(g, provenance, {}, grouping);
  LoweredProgram p = lower_program(g, plan, grouping);
  auto same = [](const runtime::BufferRef& x, const runtime::BufferRef& y) {
    return x.slot == y.slot && x.offset == y.offset;
  };
  std::vector<runtime::BufferRef> carried;  // the three next values of w
  for (const runtime::ProgramOutput& o : p.program.outputs) {
    if (o.name.rfind("w.", 0) == 0 || o.name.rfind("optimizer.w.", 0) == 0) carried.push_back(o.where);
  }
  ASSERT_EQ(carried.size(), 3u);
  int writers = 0;
  for (const runtime::Launch& l : p.program.launches) {
    if (l.kind != runtime::Launch::Kind::kernel) continue;
    const kir::Kernel* k = nullptr;
    for (const kir::Kernel& kernel : p.kernels) {
      if (kernel.name == l.function) k = &kernel;
    }
    ASSERT_NE(k, nullptr);
    int writes = 0;
    for (size_t i = 0; i < k->buffers.size(); ++i) {
      bool is_carried = false;
      for (const runtime::BufferRef& c : carried) is_carried = is_carried || same(c, l.buffers[i]);
      if (k->buffers[i].written && is_carried) ++writes;
    }
    if (writes == 0) continue;
    ++writers;
    EXPECT_EQ(writes, 3) << kir::print_kernel(*k);
  }
  EXPECT_EQ(writers, 1);
}

TEST(Lowering, StructuredOpsMustBeExpandedFirst) {
  Graph g("structured");
  Tensor x = g.input("x", {DType::f32, {4, 2}});
  Tensor w = g.input("w", {DType::f32, {2, 2}});
  g.output("y", chunked_map({x}, {w}, 0, 2, [](Graph&, const std::vector<Tensor>& a) { return matmul(a[0], a[1]); }));
  KernelGrouping none;
  MemoryPlan plan = plan_memory(g, {}, {}, none);
  try {
    lower_program(g, plan, none);
    FAIL() << "lowered a structured op";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("expanded"), std::string::npos) << e.what();
  }
}

// The elementwise kernel's inner loop becomes vector code for this CPU.
TEST(CpuCodegen, ElementwiseLoopVectorises) {
  kir::KernelBuilder b("add_kernel");
  int out = b.buffer("out", DType::f32, 64 * 256, true);
  int x = b.buffer("x", DType::f32, 64 * 256, false);
  int y = b.buffer("y", DType::f32, 64 * 256, false);
  std::vector<kir::ValueId> c = b.begin_loop_nest({64, 256});
  kir::ValueId at = b.flat_index(c, {64, 256});
  b.store(out, at, b.add(b.load(x, at), b.load(y, at)));
  b.end_loop_nest();
  std::string ir = codegen::optimized_llvm_ir({b.finish()});
  EXPECT_TRUE(std::regex_search(ir, std::regex(R"(fadd <(4|8|16) x float>)"))) << ir;
}

// GELU's kernel as a training step lowers it (rows of the feed-forward's
// hidden layer): on an AVX-512 CPU that LLVM tunes for 256-bit loops
// (Rocket Lake, Ice Lake-SP), the loop still runs 16 floats wide and
// calls libmvec's 16-float tanh; on AVX2, the 8-float one (a named CPU's
// features are LLVM's for it).
TEST(CpuCodegen, MathCallsVectoriseAtTheFullWidth) {
  if (!codegen::vector_math_available()) GTEST_SKIP() << "no libmvec in this process";
  Graph g("gelu");
  g.output("y", gelu(g.input("x", {DType::f32, {1, 1024, 1024}})));
  KernelGrouping grouping = kernel_grouping(g, true);
  const LoweredProgram p = lower_program(g, plan_memory(g, {}, {}, grouping), grouping);
  const std::string avx512 = codegen::optimized_llvm_ir(p.kernels, 3, "rocketlake");
  EXPECT_NE(avx512.find("call <16 x float> @_ZGVeN16v_tanhf"), std::string::npos) << avx512;
  const std::string avx2 = codegen::optimized_llvm_ir(p.kernels, 3, "x86-64-v3");
  EXPECT_NE(avx2.find("call <8 x float> @_ZGVdN8v_tanhf"), std::string::npos) << avx2;
  EXPECT_EQ(avx2.find("call <16 x float>"), std::string::npos) << avx2;
}

// The attributes of `function` in optimised IR's text: the group its
// definition names ("define ... @f(...) ... #3 {" -> "attributes #3 = {...}").
std::string function_attributes(const std::string& ir, const std::string& function) {
  std::smatch definition, group;
  if (!std::regex_search(ir, definition, std::regex("define [^\\n]*@" + function + "\\([^\\n]*#([0-9]+) \\{"))) {
    return "(no definition of " + function + ")";
  }
  if (!std::regex_search(ir, group, std::regex("attributes #" + definition[1].str() + " = \\{([^\\n]*)\\}"))) {
    return "(no attribute group)";
  }
  return group[1].str();
}

// A sum's kernel keeps LLVM's width for the CPU: the renderer lets its
// accumulation reassociate, and a wider vector would reorder the sum
// (and change its bits); an elementwise kernel asks for 512 bits.
TEST(CpuCodegen, SumsKeepTheTunedWidth) {
  auto optimised = [](Tensor (*op)(Tensor)) {
    Graph g("op");
    g.output("y", op(g.input("x", {DType::f32, {64, 1024}})));
    KernelGrouping grouping = kernel_grouping(g, true);
    const LoweredProgram p = lower_program(g, plan_memory(g, {}, {}, grouping), grouping);
    EXPECT_EQ(p.kernels.size(), 1u);
    return function_attributes(codegen::optimized_llvm_ir(p.kernels, 3, "rocketlake"), p.kernels.at(0).name);
  };
  const std::string wide = R"("prefer-vector-width"="512")";
  const std::string sum_attributes = optimised([](Tensor x) { return sum(x, {-1}); });
  EXPECT_EQ(sum_attributes.find(wide), std::string::npos) << sum_attributes;
  const std::string exp_attributes = optimised([](Tensor x) { return exp(x); });
  EXPECT_NE(exp_attributes.find(wide), std::string::npos) << exp_attributes;
}

TEST(CpuCodegen, CompiledKernelRunsOverItsRange) {
  kir::KernelBuilder b("scale");
  int out = b.buffer("out", DType::f64, 10, true);
  int x = b.buffer("x", DType::f64, 10, false);
  kir::ValueId i = b.begin_loop(10);
  b.store(out, i, b.mul(b.load(x, i), b.constant(DType::f64, 3.0)));
  b.end_loop();
  auto jit = codegen::CpuJit::compile({b.finish()});
  runtime::KernelFunction f = jit->find("scale");
  ASSERT_NE(f, nullptr);
  std::vector<double> in(10), result(10, -1.0);
  for (int k = 0; k < 10; ++k) in[k] = k;
  void* buffers[] = {result.data(), in.data()};
  f(buffers, 2, 7);  // only iterations [2, 7)
  for (int k = 0; k < 10; ++k) EXPECT_EQ(result[k], k >= 2 && k < 7 ? 3.0 * k : -1.0) << k;
  EXPECT_EQ(jit->find("missing"), nullptr);
}

}  // namespace
}  // namespace reforge
