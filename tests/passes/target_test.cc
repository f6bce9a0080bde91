// The Target seam on the compile side: backend_graph() runs the shared
// stages, then the target's own back-end passes, each under the pass
// manager; a target decides which rewrites its back end gets.
#include "compiler/target/target.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

#include "compiler/pipeline/compile.h"
#include "compiler/target/cpu_target.h"
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
};

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
