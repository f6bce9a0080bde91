// The Target seam on the compile side: backend_graph() runs the shared
// stages, then the target's own back-end passes, each under the pass
// manager; a target decides which rewrites its back end gets.
#include "compiler/target/target.h"

#include <gtest/gtest.h>

#include <map>
#include <string>
#include <vector>

#include "compiler/pipeline/compile.h"
#include "compiler/target/cpu_target.h"
#include "compiler/target/cuda_target.h"
#include "models/reformer_step.h"
#include "tests/testing/graph_queries.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

// A target whose back end wants the shared stages only.
class BareTarget : public Target {
 public:
  std::string name() const override { return "bare"; }
  std::vector<Pass> backend_passes() const override { return {}; }
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
  cpu.insert(cpu.end(), {"matmul-epilogue", "split-column-reductions"});
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
