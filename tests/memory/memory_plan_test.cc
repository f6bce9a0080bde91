// The memory plan of Reformer training steps: activation memory does not
// grow with depth under reversible recompute, the feed-forward intermediate
// shrinks with chunking, plans never overlap live buffers, and executing
// inside the planned arena gives the unplanned results.
#include <gtest/gtest.h>

#include <fmt/format.h>

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "compiler/interpreter/planned_execution.h"
#include "compiler/memory/plan_dump.h"
#include "compiler/passes/elementwise_fusion.h"
#include "compiler/pipeline/compile.h"
#include "models/memory_budget.h"
#include "models/reformer.h"
#include "models/reformer_step.h"
#include "models/tasks.h"

namespace reforge {
namespace {

ReformerConfig copy_task_config(int64_t layers) {
  ReformerConfig c;
  c.vocab_size = 8;
  c.seq_len = 16;
  c.batch = 4;
  c.d_model = 32;
  c.n_heads = 2;
  c.d_head = 16;
  c.d_ff = 64;
  c.n_layers = layers;
  c.chunk_len = 4;
  c.n_hashes = 2;
  return c;
}

CompiledStep compile(const ReformerConfig& c, CompileOptions options = {}) { return compile_reformer_step(c, options); }

struct DepthFigures {
  int64_t peak;       // most bytes live at once (the peak transient bytes)
  int64_t arena;      // with fragmentation
  int64_t decisions;  // integer decisions kept for the backward by layers >= 2
};

DepthFigures plan_depth(int64_t layers, bool recompute) {
  CompiledStep step = compile(copy_task_config(layers), {.reversible_recompute = recompute});
  MemoryPlan plan = plan_memory(*step.graph, step.provenance());
  EXPECT_FALSE(find_plan_conflict(plan).has_value());
  DepthFigures f{plan.lower_bound_bytes, plan.arena_bytes, 0};
  for (const SavedForBackward& s : plan.saved_for_backward) {
    const PlannedBuffer& b = plan.buffers[s.buffer];
    bool early_layer = b.name.rfind("layer0.", 0) == 0 || b.name.rfind("layer1.", 0) == 0;
    if (b.kind == ValueKind::decision && b.name.rfind("layer", 0) == 0 && !early_layer) f.decisions += b.bytes;
  }
  return f;
}

// Planned after the whole pipeline (simplify, CSE, DCE, fusion): the
// recompute survives it, as the peak shows.
TEST(MemoryPlan, ReversibleRecomputeMakesActivationMemoryIndependentOfDepth) {
  DepthFigures on2 = plan_depth(2, true), on6 = plan_depth(6, true), on12 = plan_depth(12, true);
  DepthFigures off2 = plan_depth(2, false), off6 = plan_depth(6, false), off12 = plan_depth(12, false);
  // With recompute: the peak grows by the LSH buckets of the extra layers and nothing else.
  EXPECT_GT(on12.decisions, 0);
  EXPECT_LE(on6.peak - on2.peak, on6.decisions) << "2 layers " << on2.peak << ", 6 layers " << on6.peak;
  EXPECT_LE(on12.peak - on2.peak, on12.decisions) << "2 layers " << on2.peak << ", 12 layers " << on12.peak;
  // Without it: roughly linear in depth (10 extra layers cost ~2.5x 4 extra).
  double growth6 = static_cast<double>(off6.peak - off2.peak), growth12 = static_cast<double>(off12.peak - off2.peak);
  EXPECT_GT(growth6, 10.0 * (on6.peak - on2.peak));
  EXPECT_NEAR(growth12 / growth6, 10.0 / 4.0, 0.25 * 10.0 / 4.0);
  std::printf("peak transient bytes, recompute on:  2 layers %lld, 6 layers %lld, 12 layers %lld\n",
              static_cast<long long>(on2.peak), static_cast<long long>(on6.peak), static_cast<long long>(on12.peak));
  std::printf("peak transient bytes, recompute off: 2 layers %lld, 6 layers %lld, 12 layers %lld\n",
              static_cast<long long>(off2.peak), static_cast<long long>(off6.peak), static_cast<long long>(off12.peak));
}

// The largest feed-forward intermediate ([batch, positions, d_ff]) in the
// plan; the forward runs inside the chunked body, the backward in the
// top-level program.
int64_t largest_ff_buffer(const MemoryPlan& plan, int64_t d_ff) {
  int64_t largest = 0;
  for (const PlannedBuffer& b : plan.buffers) {
    if (b.type.rank() == 3 && b.type.shape.back() == d_ff && b.kind != ValueKind::workspace) {
      largest = std::max(largest, b.bytes);
    }
  }
  return largest;
}

TEST(MemoryPlan, FeedForwardChunkingShrinksTheIntermediateByTheChunkCount) {
  ReformerConfig c = copy_task_config(2);
  c.d_ff = 512;  // make the feed-forward intermediate dominate
  std::map<int64_t, MemoryPlan> plans;
  for (int64_t chunks : {1, 4, 8}) {
    c.ff_chunks = chunks;
    CompiledStep step = compile(c);
    plans[chunks] = plan_memory(*step.graph, step.provenance());
  }
  int64_t one = largest_ff_buffer(plans[1], c.d_ff);
  EXPECT_EQ(largest_ff_buffer(plans[4], c.d_ff) * 4, one);
  EXPECT_EQ(largest_ff_buffer(plans[8], c.d_ff) * 8, one);
  EXPECT_LT(plans[4].lower_bound_bytes, plans[1].lower_bound_bytes);
  EXPECT_LT(plans[8].lower_bound_bytes, plans[4].lower_bound_bytes);
}

TEST(MemoryPlan, CheckerFindsOverlappingLiveBuffers) {
  CompiledStep step = compile(copy_task_config(2));
  MemoryPlan plan = plan_memory(*step.graph, step.provenance());
  ASSERT_FALSE(find_plan_conflict(plan).has_value());
  // Move one buffer onto another that is live at the same time.
  const std::vector<const PlannedBuffer*> live = plan.live_at(plan.peak_step);
  ASSERT_GE(live.size(), 2u);
  MemoryPlan broken = plan;
  for (PlannedBuffer& b : broken.buffers) {
    if (b.name == live[1]->name) b.offset = live[0]->offset;
  }
  auto conflict = find_plan_conflict(broken);
  ASSERT_TRUE(conflict.has_value());
  EXPECT_NE(conflict->find("overlaps"), std::string::npos) << *conflict;
}

// Views (reshapes) are the one exception: they are their input's bytes.
TEST(MemoryPlan, WithoutReuseEveryBufferHasItsOwnSpace) {
  CompiledStep step = compile(copy_task_config(2));
  MemoryPlan plan = plan_memory(*step.graph, step.provenance(), {.buffer_reuse = false});
  EXPECT_FALSE(find_plan_conflict(plan).has_value());
  int64_t total = 0, views = 0;
  for (const PlannedBuffer& b : plan.buffers) {
    if (b.alias_of >= 0) {
      ++views;
      EXPECT_EQ(b.offset, plan.buffer_of(b.alias_of)->offset) << b.name;
      continue;
    }
    total += (b.bytes + 63) / 64 * 64;
  }
  EXPECT_GT(views, 0);
  EXPECT_EQ(plan.arena_bytes, total);
  MemoryPlan reused = plan_memory(*step.graph, step.provenance());
  EXPECT_LT(reused.arena_bytes * 5, plan.arena_bytes);
}

// Executing inside one arena exactly as planned reproduces the unplanned
// results bit for bit: no two live values shared memory.
TEST(MemoryPlan, PlannedExecutionMatchesUnplannedExecution) {
  ReformerConfig c = copy_task_config(2);
  c.attention = {AttentionKind::lsh, AttentionKind::local};
  c.ff_chunks = 2;
  CompiledStep step = compile(c);
  ValueMap feeds = initial_values(*step.graph, 3);
  for (auto& [name, value] : make_duplication_task(c, 5)->batch(1)) feeds[name] = value;
  ValueMap expected = run_graph(*step.graph, feeds);
  for (bool reuse : {true, false}) {
    MemoryPlan plan = plan_memory(*step.graph, step.provenance(), {.buffer_reuse = reuse});
    ValueMap planned = run_planned(*step.graph, plan, feeds);
    ASSERT_EQ(planned.size(), expected.size());
    for (const auto& [name, value] : expected) EXPECT_EQ(planned.at(name).data, value.data) << name;
  }
}

// A concat of two parts is read inside its consumer's kernel; one of more
// parts (a load from every part per element) is stored on its own.
TEST(MemoryPlan, ConcatOfManyPartsIsNotFusedIntoItsConsumer) {
  Graph g("concats");
  Tensor x = g.input("x", {DType::f32, {6, 4}});
  std::vector<Tensor> parts;
  for (int i = 0; i < 3; ++i) parts.push_back(exp(slice(x, 0, 2 * i, 2 * i + 2)));
  Tensor two = concat({parts[0], parts[1]}, 0);
  g.output("a", slice(x, 0, 0, 4) + two);
  Tensor three = concat(parts, 0);
  g.output("b", x + three);
  FusionGroups groups = group_elementwise(g);
  EXPECT_GE(groups.group_of[two.id], 0) << "a two-part concat is read in its consumer's kernel";
  EXPECT_EQ(groups.group_of[three.id], -1) << "a three-part concat is stored";
}

// Fused elementwise kernels keep their inner values out of memory; running
// the program with them unbuffered still gives the same results.
TEST(MemoryPlan, ElementwiseFusionGroupsNeedNoBuffersForInnerValues) {
  ReformerConfig c = copy_task_config(2);
  CompiledStep step = compile(c);
  std::unique_ptr<Graph> graph = backend_graph(*step.graph);  // what plan_step_memory plans
  FusionGroups groups = group_elementwise(*graph);
  ASSERT_FALSE(groups.groups.empty());
  std::vector<int> consumers(graph->size(), 0);
  for (int id = 0; id < graph->size(); ++id) {
    for (int in : graph->node(id).inputs) ++consumers[in];
  }
  // A view that reads each element of its input at most once.
  auto reads_once = [](const OpDef& def) {
    return def.kind == OpKind::view && !def.repeats_input && !def.reinterprets_input;
  };
  for (const auto& group : groups.groups) {
    ASSERT_GE(group.size(), 2u);
    for (int id : group) {
      const Node& n = graph->node(id);
      const Node& root = graph->node(group.back());
      bool is_root = id == group.back();
      bool view_producer = n.def->kind == OpKind::view && !is_root;
      bool reduction_root = n.def->kind == OpKind::reduction && is_root;
      bool view_root = is_root && reads_once(*n.def);  // reading other views only
      EXPECT_TRUE(n.def->elementwise() || view_producer || reduction_root || view_root) << n.name;
      const Shape& read_shape =
          root.def->kind == OpKind::reduction ? graph->node(root.inputs[0]).type.shape : root.type.shape;
      if (!is_root && (n.type.shape != read_shape || reads_once(*root.def))) {
        // Else the producer of a member view (or root view) that reads each
        // element at most once, computed where the view reads it: a view,
        // or an elementwise op inside an elementwise or reduction kernel.
        int reader = -1;
        for (int other : group) {
          for (int in : graph->node(other).inputs) reader = in == id ? other : reader;
        }
        ASSERT_GE(reader, 0) << n.name;
        EXPECT_TRUE(reads_once(*graph->node(reader).def)) << n.name << " is not at the kernel's shape";
        EXPECT_TRUE(n.def->kind == OpKind::view || !reads_once(*root.def))
            << n.name << ": a view's kernel computes nothing";
      }
      if (id != group.back()) {
        EXPECT_EQ(consumers[id], 1) << n.name << " escapes its kernel";
      }
    }
  }
  MemoryPlan fused = plan_step_memory(step), unfused = plan_step_memory(step, {}, false);
  EXPECT_GT(fused.fused_values, 0);
  // Fewer bytes are ever allocated; the peak itself may be set by a step
  // fusion does not touch (the LSH backward's workspace, here).
  auto allocated = [](const MemoryPlan& p) {
    int64_t total = 0;
    for (const PlannedBuffer& b : p.buffers) total += b.alias_of < 0 ? b.bytes : 0;
    return total;
  };
  EXPECT_LT(allocated(fused), allocated(unfused));
  EXPECT_LE(fused.lower_bound_bytes, unfused.lower_bound_bytes);
  EXPECT_FALSE(find_plan_conflict(fused).has_value());
  ValueMap feeds = initial_values(*graph, 3);
  for (auto& [name, value] : make_duplication_task(c, 5)->batch(1)) feeds[name] = value;
  ValueMap expected = run_graph(*graph, feeds), planned = run_planned(*graph, fused, feeds);
  for (const auto& [name, value] : expected) EXPECT_EQ(planned.at(name).data, value.data) << name;
}

TEST(MemoryPlan, DumpsDescribeEveryBuffer) {
  CompiledStep step = compile(copy_task_config(2));
  MemoryPlan plan = plan_memory(*step.graph, step.provenance());
  std::string json = plan_to_json(plan);
  size_t buffers = 0;
  for (size_t at = json.find("\"first_step\""); at != std::string::npos; at = json.find("\"first_step\"", at + 1)) {
    ++buffers;
  }
  EXPECT_EQ(buffers, plan.buffers.size());
  EXPECT_NE(json.find("\"schema\": \"reforge.memory_plan/1\""), std::string::npos);
  EXPECT_EQ(plan_to_json(plan), json);  // stable
  EXPECT_NE(json.find("\"memory_budget\": null"), std::string::npos);
  const std::string chosen = plan_to_json(
      plan, BudgetNote{.budget_bytes = 1 << 20, .by_default = true, .stored_blocks = 1, .blocks = 2, .ff_chunks = 4});
  EXPECT_NE(chosen.find("\"memory_budget\": {\"budget_bytes\": 1048576, \"default\": true, \"stored_blocks\": 1, "
                        "\"blocks\": 2, \"ff_chunks\": 4}"),
            std::string::npos)
      << chosen;

  std::string text = plan_to_text(plan);
  EXPECT_NE(text.find("no-fragmentation lower bound"), std::string::npos);
  EXPECT_NE(text.find("saved for backward"), std::string::npos);
  EXPECT_NE(text.find("models/"), std::string::npos);  // buffers name the DSL source line

  std::string html = plans_to_html({{"on", &plan}, {"again", &plan}});
  EXPECT_NE(html.find("<svg"), std::string::npos);
  EXPECT_EQ(html.find("src=\"http"), std::string::npos);
  EXPECT_EQ(html.find("<script src"), std::string::npos);
  EXPECT_EQ(std::count(html.begin(), html.end(), '\n') > 100, true);
}

int64_t planned_peak(ReformerConfig c, int64_t stored_blocks, int64_t ff_chunks) {
  c.ff_chunks = ff_chunks;
  return plan_step_memory(compile(c, {.stored_blocks = stored_blocks})).arena_bytes;
}

// Storing a block's activations costs memory; rebuilding them costs its
// forward again. The budget keeps as many blocks stored as fit, then
// takes the fewest feed-forward chunks; the plan never exceeds it.
TEST(MemoryPlan, MemoryBudgetStoresAsManyBlocksAsFitThenTheFewestChunks) {
  ReformerConfig c = copy_task_config(3);
  c.d_ff = 512;
  const int64_t all_stored = planned_peak(c, 3, 1), all_rebuilt = planned_peak(c, 0, c.seq_len);
  ASSERT_LT(all_rebuilt, all_stored);
  ASSERT_LT(planned_peak(c, 0, 1), all_stored) << "rebuilding does not save memory";

  // Everything fits: nothing is rebuilt, nothing chunked.
  BudgetChoice roomy = choose_for_budget(c, all_stored);
  EXPECT_EQ(roomy.stored_blocks, 3);
  EXPECT_EQ(roomy.blocks, 3);
  EXPECT_EQ(roomy.ff_chunks, 1);
  EXPECT_EQ(roomy.peak_bytes, all_stored);

  // Budgets between: the choice fits, and one more stored block would not.
  for (int64_t budget = all_rebuilt; budget < all_stored; budget += (all_stored - all_rebuilt) / 7 + 1) {
    SCOPED_TRACE(budget);
    const BudgetChoice choice = choose_for_budget(c, budget);
    EXPECT_LE(choice.peak_bytes, budget);
    EXPECT_EQ(choice.peak_bytes, planned_peak(c, choice.stored_blocks, choice.ff_chunks));
    if (choice.stored_blocks < 3) {
      EXPECT_GT(planned_peak(c, choice.stored_blocks + 1, choice.ff_chunks), budget);
    }
    if (choice.ff_chunks > 1) {
      EXPECT_GT(planned_peak(c, choice.stored_blocks, choice.ff_chunks / 2), budget);
    }
    EXPECT_NE(choice.describe().find(fmt::format("{} of 3 reversible blocks store", choice.stored_blocks)),
              std::string::npos);
  }

  // Too small for any choice: refused, naming the smallest peak reached,
  // which is a budget that fits.
  try {
    choose_for_budget(c, all_rebuilt / 2);
    FAIL() << "a budget below every plan was accepted";
  } catch (const Error& e) {
    const std::string message = e.what();
    const size_t at = message.find("the smallest peak is ");
    ASSERT_NE(at, std::string::npos) << message;
    const int64_t smallest = std::stoll(message.substr(at + 21));
    EXPECT_LE(smallest, planned_peak(c, 0, 1));
    EXPECT_EQ(choose_for_budget(c, smallest).peak_bytes, smallest);
  }

  // What the user fixed stays; the budget chooses the rest.
  const BudgetChoice fixed_chunks = choose_for_budget(c, all_stored * 4, {}, {.ff_chunks = 2});
  EXPECT_EQ(fixed_chunks.ff_chunks, 2);
  EXPECT_EQ(fixed_chunks.stored_blocks, 3);
  const BudgetChoice fixed_stored = choose_for_budget(c, all_stored * 4, {}, {.stored_blocks = 1});
  EXPECT_EQ(fixed_stored.stored_blocks, 1);
  EXPECT_EQ(fixed_stored.ff_chunks, 1);

  // Without reversible recompute only the chunks are chosen.
  ReformerConfig plain = c;
  plain.reversible = false;
  const BudgetChoice chunks_only = choose_for_budget(plain, all_stored * 4);
  EXPECT_EQ(chunks_only.blocks, 0);
  EXPECT_EQ(chunks_only.ff_chunks, 1);

  // The sweep: from the smallest plan to every block stored, unchunked;
  // more memory, more stored blocks, less work.
  const std::vector<SweepRow> rows = sweep_budgets(c, {}, 4);
  ASSERT_EQ(rows.size(), 4u);
  EXPECT_EQ(rows.back().choice.stored_blocks, 3);
  EXPECT_EQ(rows.back().choice.ff_chunks, 1);
  EXPECT_EQ(rows.back().choice.peak_bytes, all_stored);
  for (size_t i = 0; i < rows.size(); ++i) {
    EXPECT_LE(rows[i].choice.peak_bytes, rows[i].choice.budget_bytes) << i;
    EXPECT_GT(rows[i].flops, 0) << i;
    if (i > 0) {
      EXPECT_GT(rows[i].choice.budget_bytes, rows[i - 1].choice.budget_bytes) << i;
      EXPECT_GE(rows[i].choice.stored_blocks, rows[i - 1].choice.stored_blocks) << i;
    }
  }
  EXPECT_LT(rows.back().flops, rows.front().flops) << "storing every block saved no work";

  EXPECT_EQ(parse_byte_size("3MiB"), 3 << 20);
  EXPECT_EQ(parse_byte_size("1.5KiB"), 1536);
  EXPECT_EQ(parse_byte_size("4096"), 4096);
  EXPECT_THROW(parse_byte_size("lots"), Error);
}

}  // namespace
}  // namespace reforge
