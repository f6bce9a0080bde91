// The gradient all-reduce pass (compiler/passes/gradient_all_reduce.h):
// every parameter gradient is in exactly one bucket, the optimizer reads
// only the summed buckets, each bucket's sum starts before the backward
// is over (the overlap) and is waited for just before its first reader,
// the memory plan sums in place, and — in one process, where a sum over
// the replicas is the value itself — the step gives the same bits as the
// step without the pass, on the interpreter and on the CPU back end.
#include "compiler/passes/gradient_all_reduce.h"

#include <gtest/gtest.h>

#include <map>
#include <set>

#include "compiler/interpreter/trainer.h"
#include "compiler/pipeline/compile.h"
#include "compiler/pipeline/jit_model.h"
#include "models/reformer.h"
#include "models/reformer_step.h"
#include "models/tasks.h"
#include "tests/testing/graph_queries.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

constexpr int64_t kBucketBytes = 2048;

CompiledStep compile_with_ranks(int ranks, DType float_type = DType::f32) {
  ReformerConfig config = testing::tiny_reformer_config();
  config.learning_rate = 1e-2;
  std::unique_ptr<Graph> model = build_reformer_graph(config, "reformer", float_type);
  CompileOptions options;
  options.ranks = ranks;
  options.buckets.bucket_bytes = kBucketBytes;
  return compile_training_step(*model, "loss", reformer_optimizer(config), options);
}

ValueMap batch_of(int64_t step, DType float_type) {
  ValueMap batch = make_duplication_task(testing::tiny_reformer_config(), 11)->batch(step);
  for (auto& [name, value] : batch) {
    if (is_float(value.dtype())) value.type.dtype = float_type;
  }
  return batch;
}

std::vector<int> nodes_of(const Graph& g, const std::string& op) {
  std::vector<int> ids;
  for (int id = 0; id < g.size(); ++id) {
    if (g.node(id).op == op) ids.push_back(id);
  }
  return ids;
}

TEST(GradientAllReduce, EveryGradientIsInOneBucketAndTheOptimizerReadsOnlySums) {
  CompiledStep step = compile_with_ranks(2);
  const Graph& g = *step.graph;
  std::vector<int> starts = nodes_of(g, "all_reduce_start"), waits = nodes_of(g, "all_reduce_wait");
  ASSERT_GE(starts.size(), 3u) << "buckets of " << kBucketBytes << " bytes";
  EXPECT_EQ(starts.size(), waits.size());

  std::map<int, int> bucket_of_gradient;  // gradient node -> bucket
  for (size_t k = 0; k < starts.size(); ++k) {
    const Node& start = g.node(starts[k]);
    EXPECT_EQ(start.attrs.get_int("bucket"), static_cast<int64_t>(k)) << "buckets start in order";
    EXPECT_EQ(start.role, ValueRole::communication);
    int64_t bytes = 0;
    for (int part : start.inputs) {
      EXPECT_TRUE(bucket_of_gradient.emplace(part, static_cast<int>(k)).second) << g.node(part).name << " twice";
      bytes += g.node(part).type.bytes();
    }
    if (k + 1 < starts.size()) {
      EXPECT_GE(bytes, kBucketBytes) << "bucket " << k << " closed early";
    }
    // A bucket is closed by its first gradient past the size: without its
    // last part it was still under it.
    EXPECT_LT(bytes - g.node(start.inputs.back()).type.bytes(), kBucketBytes) << "bucket " << k;
  }
  EXPECT_EQ(bucket_of_gradient.size(), step.step.gradients.size()) << "every parameter's gradient, once";

  // Nothing but the buckets reads a gradient the replicas have not summed.
  for (int id = 0; id < g.size(); ++id) {
    if (g.node(id).op == "all_reduce_start") continue;
    for (int in : g.node(id).inputs) {
      EXPECT_EQ(bucket_of_gradient.count(in), 0u) << g.node(id).name << " reads the unsummed " << g.node(in).name;
    }
  }
}

TEST(GradientAllReduce, SumsStartDuringTheBackwardAndAreWaitedForLate) {
  CompiledStep step = compile_with_ranks(2);
  BackendPlan backend = plan_backend(*step.graph, step.provenance());
  const Graph& g = *backend.graph;
  const std::vector<int>& schedule = backend.plan.schedule;
  std::map<int, int> position;
  for (size_t i = 0; i < schedule.size(); ++i) position[schedule[i]] = static_cast<int>(i);
  std::vector<int> starts = nodes_of(g, "all_reduce_start");
  ASSERT_GE(starts.size(), 3u);

  // The overlap: the last bucket starts after the last parameter gradient,
  // and between the first bucket's start and it the backward still runs
  // matrix products (the first bucket's sum travels meanwhile).
  int products_meanwhile = 0;
  for (int at = position.at(starts.front()) + 1; at < position.at(starts.back()); ++at) {
    products_meanwhile += g.node(schedule[at]).op == "matmul" || g.node(schedule[at]).op == "matmul_epilogue";
  }
  EXPECT_GE(products_meanwhile, 4) << "the first sum starts before the backward's last matrix products";

  // Each wait comes after its start and right before the first node that
  // reads its sum (through the views that slice it): only views,
  // constants (scheduled just before their reader) and other buckets'
  // communication run in between.
  auto is_view = [&](int id) { return g.node(id).def && g.node(id).def->kind == OpKind::view; };
  for (int wait : nodes_of(g, "all_reduce_wait")) {
    EXPECT_LT(position.at(g.node(wait).inputs[0]), position.at(wait));
    std::set<int> summed = {wait};
    int first_reader = INT32_MAX;
    for (int id = wait + 1; id < g.size(); ++id) {
      bool reads = false;
      for (int in : g.node(id).inputs) reads = reads || summed.count(in) > 0;
      if (!reads) continue;
      if (is_view(id)) {
        summed.insert(id);
      } else if (position.count(id)) {
        first_reader = std::min(first_reader, position[id]);
      }
    }
    ASSERT_LT(first_reader, INT32_MAX) << g.node(wait).name << " has no reader";
    for (int at = position.at(wait) + 1; at < first_reader; ++at) {
      const Node& between = g.node(schedule[at]);
      EXPECT_TRUE(is_view(schedule[at]) || between.inputs.empty() || between.role == ValueRole::communication)
          << g.node(wait).name << " waits earlier than it needs: " << between.name << " (" << between.op
          << ") runs between it and its first reader";
    }
  }
}

TEST(GradientAllReduce, ThePlanShowsTheBucketsAndSumsInPlace) {
  CompiledStep step = compile_with_ranks(2);
  BackendPlan backend = plan_backend(*step.graph, step.provenance());
  int buckets = 0;
  for (const PlannedBuffer& b : backend.plan.buffers) {
    if (b.op != "all_reduce_wait") continue;
    ++buckets;
    EXPECT_EQ(b.kind, ValueKind::communication);
    const PlannedBuffer* started = backend.plan.buffer_of(backend.graph->node(b.value).inputs[0]);
    ASSERT_NE(started, nullptr);
    EXPECT_EQ(started->kind, ValueKind::communication);
    EXPECT_EQ(started->offset, b.offset) << b.name << " is summed in its bucket's memory";
  }
  EXPECT_EQ(buckets, testing::count_ops(*backend.graph, "all_reduce_start"));
  EXPECT_GE(buckets, 3);
}

// In one process every sum over the replicas is its one value: the pass
// must then change nothing, to the bit, over three Adam steps.
TEST(GradientAllReduce, OneProcessGivesTheSameBitsAsNoPass) {
  CompiledStep plain = compile_with_ranks(1), bucketed = compile_with_ranks(2);
  ASSERT_EQ(testing::count_ops(*plain.graph, "all_reduce_start"), 0);
  InterpreterTrainer plain_reference(*plain.graph, plain.step, 5), bucketed_reference(*bucketed.graph, bucketed.step, 5);
  CpuTrainer plain_cpu(plain, 5), bucketed_cpu(bucketed, 5);
  for (int64_t s = 1; s <= 3; ++s) {
    ValueMap batch = batch_of(s, DType::f32);
    EXPECT_EQ(bucketed_reference.run_step(batch).at("loss").data, plain_reference.run_step(batch).at("loss").data);
    EXPECT_EQ(bucketed_cpu.run_step(batch).at("loss").data, plain_cpu.run_step(batch).at("loss").data);
  }
  for (const CarriedValue& c : plain.step.carried) {
    EXPECT_EQ(bucketed_reference.persistent().at(c.source).data, plain_reference.persistent().at(c.source).data)
        << c.source;
    EXPECT_EQ(bucketed_cpu.persistent(c.source).data, plain_cpu.persistent(c.source).data) << c.source;
  }
}

TEST(GradientAllReduce, RefusesAGradientTheStepDoesNotHave) {
  CompiledStep step = compile_with_ranks(1);
  EXPECT_THROW(insert_gradient_all_reduce(*step.graph, {"no.such.gradient"}), Error);
  EXPECT_THROW(insert_gradient_all_reduce(*step.graph, step.step.gradients, {.bucket_bytes = 0}), Error);
}

}  // namespace
}  // namespace reforge
