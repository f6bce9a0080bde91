// The Target seam on the compile side: backend_graph() runs the shared
// stages, then the target's own back-end passes, each under the pass
// manager; a target decides which rewrites its back end gets.
#include "compiler/target/target.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "compiler/dsl/dsl.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/cpu_executable.h"
#include "compiler/target/cpu_target.h"
#include "compiler/target/cuda_target.h"
#include "models/reformer_step.h"
#include "tests/testing/gradient_check.h"
#include "tests/testing/graph_queries.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

// A target whose back end wants the shared stages only.
class BareTarget : public Target {
 public:
  std::string name() const override { return "bare"; }
  std::vector<Pass> backend_passes() const override { return {}; }
  kir::ReductionSchedule reduction_schedule() const override { return {}; }
  LibraryDevice library_device() const override { return LibraryDevice::cpu; }
};

// The workspace bytes of each library op's buffer in a plan, by op.
std::map<std::string, int64_t> workspaces(const MemoryPlan& plan) {
  std::map<std::string, int64_t> bytes;
  for (const PlannedBuffer& b : plan.buffers) {
    if (b.kind == ValueKind::workspace && b.op.find("attention") != std::string::npos) bytes[b.op] += b.bytes;
  }
  return bytes;
}

TEST(Target, TheCpuPassesRunAfterTheSharedStages) {
  const std::vector<std::string> shared = {"expand-structured", "share-lsh-forward", "simplify-expanded",
                                           "dce-expanded", "rematerialise-views"};
  std::vector<std::string> cpu = shared;
  cpu.insert(cpu.end(), {"lsh-gradient-reads-forward", "matmul-epilogue", "split-column-reductions"});
  EXPECT_EQ(backend_pass_names(cpu_target()), cpu);
  EXPECT_EQ(backend_pass_names(BareTarget()), shared);
  EXPECT_EQ(cpu_target().name(), "cpu");
}

TEST(Target, TheTargetDecidesTheBackEndRewrites) {
  const CompiledStep step = compile_reformer_step(testing::tiny_reformer_config());
  const std::unique_ptr<Graph> cpu = backend_graph(*step.graph, cpu_target());
  const std::unique_ptr<Graph> bare = backend_graph(*step.graph, BareTarget());
  EXPECT_GT(testing::count_ops(*cpu, "matmul_epilogue"), 0);
  EXPECT_EQ(testing::count_ops(*bare, "matmul_epilogue"), 0);
  EXPECT_GT(testing::count_ops(*bare, "matmul"), testing::count_ops(*cpu, "matmul"));
  // Both plan: the shared planner takes whatever the target's passes made.
  const BackendPlan planned = plan_backend(*step.graph, step.provenance(), {}, true, BareTarget());
  EXPECT_GT(planned.plan.arena_bytes, 0);
}

// The fused LSH kernels keep different values on the GPU (the sort's
// inverse instead of a chunk's matrices), so the workspaces the plan gives
// them follow the target's library device; the local attention's do not.
TEST(Target, TheTargetSizesTheLibraryWorkspaces) {
  ReformerConfig config = testing::tiny_reformer_config();
  config.seq_len = 512;  // long enough that the sort's inverse outweighs the CPU's chunk matrices
  config.n_hashes = 4;
  const CompiledStep step = compile_reformer_step(config);
  const std::map<std::string, int64_t> cpu = workspaces(plan_step_memory(step, {}, true, cpu_target()));
  const std::map<std::string, int64_t> cuda = workspaces(plan_step_memory(step, {}, true, cuda_target()));
  ASSERT_TRUE(cpu.count("lsh_attention_fused_grad") && cpu.count("chunked_attention_fused_grad")) << cpu.size();
  EXPECT_GT(cuda.at("lsh_attention_fused_grad"), cpu.at("lsh_attention_fused_grad"));
  EXPECT_EQ(cuda.at("chunked_attention_fused_grad"), cpu.at("chunked_attention_fused_grad"));
  EXPECT_EQ(cpu_target().library_device(), LibraryDevice::cpu);
  EXPECT_EQ(cuda_target().library_device(), LibraryDevice::cuda);
}

// The reductions' loop nests as a schedule lowers them: each reduction
// launch's parallel extent and kernel text, and the outputs on `feeds`.
struct LoweredReductions {
  std::vector<int64_t> extents;
  std::vector<std::string> kernels;
  std::map<std::string, HostTensor> outputs;
};
LoweredReductions lower_reductions(const Graph& graph, const ValueMap& feeds, const kir::ReductionSchedule& schedule) {
  BackendPlan planned = plan_backend(graph, {});
  planned.reductions = schedule;
  auto executable = CpuExecutable::build(std::move(planned));
  LoweredReductions out;
  for (const runtime::Launch& launch : executable->lowered().program.launches) {
    if (launch.kind == runtime::Launch::Kind::kernel) out.extents.push_back(launch.extent);
  }
  for (const kir::Kernel& kernel : executable->lowered().kernels) out.kernels.push_back(kir::print_kernel(kernel));
  for (const auto& [name, value] : feeds) executable->feed(name, value);
  executable->run();
  for (const auto& [name, id] : graph.outputs()) out.outputs.emplace(name, executable->read_output(name));
  return out;
}

// The target chooses the shape of each reduction's loop nest, not its
// result. The CPU streams a column sum row by row into the output row
// (few parallel iterations) and takes a long argmax line in lanes; the GPU
// keeps a thread per output element. Maxima and argmaxes agree exactly;
// the order of a float sum is not part of its meaning (the CPU's code may
// keep several partial sums), so sums agree with the reference to f32's
// rounding.
TEST(Target, TheTargetShapesTheReductionNestsNotTheirResults) {
  Graph g("reductions");
  Tensor x = g.input("x", {DType::f32, {300, 48}});
  Tensor h = g.input("h", {DType::f32, {40, 128}});
  g.output("column_sums", sum(x, {0}));
  g.output("column_maxima", max(x, {0}));
  g.output("bucket", argmax(h, 1));
  g.output("short_bucket", argmax(slice(h, 1, 0, 32), 1));
  ValueMap feeds;
  feeds.emplace("x", testing::random_tensor({x.type(), -4.0, 4.0}, 1));
  HostTensor hashes = testing::random_tensor({h.type(), -1.0, 1.0}, 2);
  for (int64_t row = 0; row < 40; ++row) hashes[row * 128 + 100] = hashes[row * 128 + 3];  // tied maxima
  feeds.emplace("h", hashes);
  const ValueMap reference = run_graph(g, feeds);

  const LoweredReductions cpu = lower_reductions(g, feeds, cpu_target().reduction_schedule());
  const LoweredReductions cuda = lower_reductions(g, feeds, cuda_target().reduction_schedule());
  const LoweredReductions plain = lower_reductions(g, feeds, {});
  int64_t cpu_work = 0, cuda_work = 0;
  for (int64_t e : cpu.extents) cpu_work += e;
  for (int64_t e : cuda.extents) cuda_work += e;
  EXPECT_LT(cpu_work, cuda_work) << "the CPU's column reductions are not row by row";
  EXPECT_NE(cpu.kernels, cuda.kernels);
  EXPECT_NE(cuda.kernels, plain.kernels) << "the GPU's short argmax is not unrolled";
  for (const LoweredReductions* lowered : {&cpu, &cuda, &plain}) {
    for (const char* exact : {"column_maxima", "bucket", "short_bucket"}) {
      EXPECT_EQ(lowered->outputs.at(exact).data, reference.at(exact).data) << exact;
    }
    const HostTensor& sums = lowered->outputs.at("column_sums");
    for (int64_t j = 0; j < sums.size(); ++j) {
      EXPECT_NEAR(sums[j], reference.at("column_sums")[j], 300 * 4.0 * 1.2e-7) << "column " << j;
    }
  }
}

TEST(Target, BackEndStagesPrintAndAreVerifiedLikeTheFrontHalf) {
  const CompiledStep step = compile_reformer_step(testing::tiny_reformer_config());
  std::vector<std::string> printed;
  PassManagerOptions print{.print_after = {"matmul-epilogue"},
                           .print = [&](const std::string& text) { printed.push_back(text); }};
  backend_graph(*step.graph, cpu_target(), print);
  ASSERT_EQ(printed.size(), 1u);
  EXPECT_EQ(printed[0].rfind("// IR after matmul-epilogue\n", 0), 0u);
  EXPECT_NE(printed[0].find("matmul_epilogue"), std::string::npos);
  PassManagerOptions unknown{.print_after = {"no-such-stage"}};
  EXPECT_THROW(backend_graph(*step.graph, cpu_target(), unknown), Error);
}

}  // namespace
}  // namespace reforge
