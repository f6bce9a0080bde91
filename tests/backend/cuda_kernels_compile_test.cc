// Every kernel the CUDA target generates, and the GPU library's, compiles
// with NVRTC for sm_90 and ptxas spills none of them: the kernels of every case of the op
// tables (f32 and f64, with gradients) and of the P1 training step at
// L = 1K and 64K with LSH, local and full attention, reversible on and
// off. No GPU is needed; what the kernels compute is checked by the
// *_cuda_on_host tests.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <map>

#include "compiler/codegen/cuda/cuda_renderer.h"
#include "compiler/codegen/cuda/nvrtc_compiler.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "compiler/target/cuda_target.h"
#include "models/reformer_step.h"
#include "tests/testing/op_cases.h"

namespace reforge {
namespace {

// Adds `kernels` to `into`, each distinct computation once, renamed k<n>
// so that kernels of many programs share one translation unit.
void add_distinct(const std::vector<kir::Kernel>& kernels, std::map<std::string, kir::Kernel>& into) {
  for (const kir::Kernel& k : kernels) {
    std::string text = kir::print_kernel(k, /*with_names=*/false);
    if (into.count(text)) continue;
    kir::Kernel renamed = k;
    renamed.name = fmt::format("k{}", into.size());
    into.emplace(std::move(text), std::move(renamed));
  }
}

std::vector<kir::Kernel> cuda_kernels(const Graph& graph, const ValueProvenance& provenance) {
  return lower_planned(plan_backend(graph, provenance, {}, true, cuda_target())).lowered.kernels;
}

void expect_compiles_without_spills(const std::map<std::string, kir::Kernel>& distinct, const std::string& what) {
  std::vector<kir::Kernel> kernels;
  for (const auto& [text, k] : distinct) kernels.push_back(k);
  codegen::CudaBinary binary = codegen::compile_cuda(codegen::render_cuda(kernels, /*with_library=*/false));
  EXPECT_EQ(binary.sm, 90);
  EXPECT_FALSE(binary.cubin.empty());
  EXPECT_FALSE(binary.ptx.empty());
  ASSERT_EQ(binary.resources.size(), kernels.size()) << what << ": ptxas reported on other kernels than rendered";
  std::map<std::string, const kir::Kernel*> by_name;
  for (const kir::Kernel& k : kernels) by_name[k.name] = &k;
  int most_registers = 0;
  for (const codegen::KernelResources& r : binary.resources) {
    ASSERT_TRUE(by_name.count(r.name)) << what << ": ptxas reported on " << r.name << ", which was not rendered";
    EXPECT_EQ(r.spill_store_bytes + r.spill_load_bytes, 0)
        << what << ": this kernel spills " << r.spill_store_bytes << " bytes:\n"
        << kir::print_kernel(*by_name[r.name]);
    most_registers = std::max(most_registers, r.registers);
  }
  std::printf("%s: %zu distinct kernels, at most %d registers a thread\n", what.c_str(), kernels.size(),
              most_registers);
}

// The GPU library's kernels (runtime/cuda_library_source.h), every type.
TEST(CudaKernels, TheGpuLibraryCompilesForSm90WithoutSpills) {
  codegen::CudaBinary binary = codegen::compile_cuda(codegen::render_cuda({}));
  EXPECT_GE(binary.resources.size(), 40u);
  for (const codegen::KernelResources& r : binary.resources) {
    EXPECT_TRUE(r.name.starts_with("reforge_")) << r.name;
    EXPECT_EQ(r.spill_store_bytes + r.spill_load_bytes, 0) << r.name << " spills";
  }
}

TEST(CudaKernels, EveryOpCaseCompilesForSm90WithoutSpills) {
  std::map<std::string, kir::Kernel> distinct;
  int cases = 0;
  for (const testing::OpCase& c : testing::all_op_cases()) {
    for (DType float_type : {DType::f32, DType::f64}) {
      testing::BuiltGraph b = testing::op_case_graph(c, float_type, true);
      add_distinct(cuda_kernels(*b.graph, {}), distinct);
      ++cases;
    }
  }
  EXPECT_GT(cases, 250);
  expect_compiles_without_spills(distinct, fmt::format("{} op cases", cases));
}

// P1: the byte-level model of docs/BENCHMARKS.md (d_model 256, 6 layers,
// 4 heads of 64, d_ff 1024 in 8 chunks, LSH with 4 hashes, chunks of 64).
ReformerConfig p1(int64_t seq_len) {
  ReformerConfig c;
  c.vocab_size = 256;
  c.d_model = 256;
  c.d_ff = 1024;
  c.n_layers = 6;
  c.n_heads = 4;
  c.d_head = 64;
  c.chunk_len = 64;
  c.n_hashes = 4;
  c.attention = {AttentionKind::lsh};
  c.causal = true;
  c.reversible = true;
  c.ff_chunks = 8;
  c.batch = 1;
  c.seq_len = seq_len;
  c.axial_rows = 0;
  c.axial_cols = 0;
  return c;
}

struct StepVariant {
  std::string name;
  ReformerConfig config;
};

std::vector<StepVariant> step_variants() {
  std::vector<StepVariant> out;
  for (int64_t length : {1024, 65536}) {
    std::string l = length == 1024 ? "1K" : "64K";
    ReformerConfig lsh = p1(length);
    out.push_back({"lsh_reversible_" + l, lsh});
    ReformerConfig stored = lsh;
    stored.reversible = false;
    out.push_back({"lsh_not_reversible_" + l, stored});
    ReformerConfig local = lsh;
    local.attention = {AttentionKind::local};
    out.push_back({"local_" + l, local});
    ReformerConfig full = lsh;
    full.attention = {AttentionKind::full};
    out.push_back({"full_" + l, full});
  }
  return out;
}

class CudaStepKernels : public ::testing::TestWithParam<StepVariant> {};

TEST_P(CudaStepKernels, CompileForSm90WithoutSpills) {
  const StepVariant& v = GetParam();
  CompiledStep step = compile_reformer_step(v.config, {}, "p1", DType::f32);
  std::map<std::string, kir::Kernel> distinct;
  add_distinct(cuda_kernels(*step.graph, step.provenance()), distinct);
  expect_compiles_without_spills(distinct, "P1 " + v.name);
}

INSTANTIATE_TEST_SUITE_P(P1, CudaStepKernels, ::testing::ValuesIn(step_variants()),
                         [](const auto& info) { return info.param.name; });

}  // namespace
}  // namespace reforge
