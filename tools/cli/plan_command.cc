// `reforge plan <model>`: compiles the model's training step and prints its
// memory plan — text, JSON or a self-contained HTML picture — with what
// each Reformer technique saves (the plan with it switched off), for the
// CPU or (--device=cuda) a GPU.
#include <fmt/format.h>

#include <algorithm>
#include <chrono>

#include "compiler/ir/printer.h"
#include "compiler/memory/plan_dump.h"
#include "compiler/pipeline/compile.h"
#include "compiler/target/cuda_target.h"
#include "compiler/pipeline/lowering.h"
#include "models/memory_budget.h"
#include "tools/cli/budget_sweep_report.h"
#include "models/reformer.h"
#include "models/reformer_step.h"
#include "base/durable_file.h"
#include "tools/cli/model_flags.h"

namespace reforge::cli {
namespace {

struct PlannedStep {
  CompiledStep compiled;
  std::unique_ptr<Graph> backend_graph;  // what the plan is of (--print_backend_graph)
  MemoryPlan plan;
  int64_t flops = 0;  // the step's work as its launches do it (recompute counted)
};

PlannedStep plan_step(const ReformerConfig& config, const std::string& name, const CompileOptions& compile,
                      const PlanOptions& plan_options, bool elementwise_fusion, const Target& target,
                      const PassManagerOptions& backend_print = {}) {
  PlannedStep out{compile_reformer_step(config, compile, name), nullptr, {}};
  LoweredPlan lowered = lower_planned(plan_backend(*out.compiled.graph, out.compiled.provenance(), plan_options,
                                                   elementwise_fusion, target, backend_print));
  out.backend_graph = std::move(lowered.graph);
  out.plan = std::move(lowered.plan);
  for (const runtime::Launch& launch : lowered.lowered.program.launches) out.flops += launch.flops;
  return out;
}

// "gradient buckets (summed over the ranks): 5, 4.00 MiB 4.12 MiB ...".
std::string describe_buckets(const Graph& g) {
  std::vector<std::string> sizes;
  int64_t total = 0;
  for (int id = 0; id < g.size(); ++id) {
    if (!g.node(id).def || !g.node(id).def->starts_communication) continue;
    sizes.push_back(fmt::format("{} ({} gradients)", format_bytes(g.node(id).type.bytes()), g.node(id).inputs.size()));
    total += g.node(id).type.bytes();
  }
  return fmt::format("gradient buckets summed over the ranks, in the order they start: {} of {} in all: {}\n",
                     sizes.size(), format_bytes(total), fmt::join(sizes, ", "));
}

// `text` on standard output, or written to --output (atomically).
void emit(const Flags& flags, const std::string& text, const std::string& what) {
  if (flags.get("output").empty()) {
    fmt::print("{}", text);
  } else {
    write_file_durably(flags.get("output"), text, what);
    fmt::print("wrote {} ({})\n", flags.get("output"), format_bytes(static_cast<int64_t>(text.size())));
  }
}

int run_plan(const std::vector<std::string>& args) {
  std::map<std::string, std::string> plan_flags = compile_flag_defaults();
  plan_flags.insert({{"format", "text"},
                     {"output", ""},
                     {"elementwise_fusion", "true"},
                     {"budget_sweep", "false"},
                     {"buffer_reuse", "true"},
                     {"compare", "true"},
                     {"print_after", ""},
                     {"print_after_all", "false"},
                     {"print_backend_graph", "false"},
                     {"device", "cpu"},
                     {"ranks", "1"}});
  ModelSelection s = select_model("plan", args, plan_flags);
  if (s.help_shown) return 0;
  if (s.flags.given("output") && s.flags.get("output").empty()) {
    throw UsageError("-o/--output needs a path, got an empty one (leave it out to print the plan)");
  }
  const std::string format = s.flags.get("format");
  if (format != "text" && format != "json" && format != "html") {
    throw UsageError("--format must be text, json or html, got '" + format + "'");
  }
  // The device whose memory the plan is of: the CPU's, or a GPU's (the
  // CUDA target's back-end graph, planned into the GPU's arena).
  const std::string device = s.flags.get("device");
  if (device != "cpu" && device != "cuda") throw UsageError("--device must be cpu or cuda, got '" + device + "'");
  const Target& target = device == "cuda" ? cuda_target() : cpu_target();
  // The plan of one rank's step among N: batch / N rows, gradient buckets.
  const int64_t ranks = s.flags.get_int("ranks");
  if (ranks < 1 || ranks > 65536) throw UsageError(fmt::format("--ranks must be 1..65536, got {}", ranks));
  s.config.replicas = ranks;
  s.config.validate();
  CompileOptions compile = compile_options(s.flags);
  compile.print_after_all = s.flags.get_bool("print_after_all");
  // --print_after names a pass of the front half or a back-end stage
  // (expand-structured ... and the target's passes); an unknown name is
  // refused by the front half's pass manager, which lists both.
  PassManagerOptions backend_print{.print_after_all = compile.print_after_all};
  if (const std::string after = s.flags.get("print_after"); !after.empty()) {
    const std::vector<std::string> stages = backend_pass_names(target);
    if (std::find(stages.begin(), stages.end(), after) != stages.end()) {
      backend_print.print_after.insert(after);
    } else {
      compile.print_after.insert(after);
    }
  }
  PlanOptions plan_options{.buffer_reuse = s.flags.get_bool("buffer_reuse")};
  const bool fuse = s.flags.get_bool("elementwise_fusion");

  if (s.flags.get_bool("budget_sweep")) {
    if (device != "cpu") throw UsageError("--budget_sweep plans the CPU's memory: leave out --device");
    const std::vector<SweepRow> rows = sweep_budgets(s.config, compile);
    emit(s.flags,
         format == "json"   ? sweep_to_json(s.entry->name, rows)
         : format == "html" ? sweep_to_html(s.entry->name, rows)
                            : sweep_to_text(s.entry->name, rows),
         "budget sweep");
    return 0;
  }
  // Said beside the plan; a JSON or HTML plan on standard output stays one document.
  const std::optional<BudgetChoice> chosen = apply_memory_flags(
      s.flags, s.config, compile, format == "text" ? stdout : stderr,
      {.host = device == "cpu", .processes = static_cast<int>(ranks)});
  auto start = std::chrono::steady_clock::now();
  PlannedStep main = plan_step(s.config, s.entry->name, compile, plan_options, fuse, target, backend_print);
  double seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  if (auto conflict = find_plan_conflict(main.plan)) throw Error("internal: the plan is inconsistent: " + *conflict);
  if (ranks > 1) fmt::print("{}", describe_buckets(*main.backend_graph));
  // The graph the back ends run: structured ops expanded, matmul
  // epilogues fused (what --profile's kernels come from).
  if (s.flags.get_bool("print_backend_graph")) {
    fmt::print("// IR the back end runs\n{}", print_graph(*main.backend_graph));
  }

  // What each technique buys: plan again with it switched off.
  std::vector<TechniqueSaving> savings;
  std::unique_ptr<PlannedStep> without_recompute;
  if (s.flags.get_bool("compare")) {
    CompileOptions quiet = compile;
    quiet.print_after.clear();
    quiet.print_after_all = false;
    if (s.config.reversible && compile.reversible_recompute) {
      CompileOptions off = quiet;
      off.reversible_recompute = false;
      without_recompute =
          std::make_unique<PlannedStep>(plan_step(s.config, s.entry->name, off, plan_options, fuse, target));
      savings.push_back({"reversible recompute", without_recompute->plan.arena_bytes, main.plan.arena_bytes});
    }
    if (s.config.ff_chunks > 1) {
      ReformerConfig unchunked = s.config;
      unchunked.ff_chunks = 1;
      PlannedStep p = plan_step(unchunked, s.entry->name, quiet, plan_options, fuse, target);
      savings.push_back(
          {fmt::format("ffn chunking ({} chunks)", s.config.ff_chunks), p.plan.arena_bytes, main.plan.arena_bytes});
    }
    const bool has_lsh = has_lsh_attention(s.config);
    if (fuse) {
      PlannedStep p = plan_step(s.config, s.entry->name, quiet, plan_options, false, target);
      savings.push_back({"elementwise fusion", p.plan.arena_bytes, main.plan.arena_bytes});
    }
    if (has_lsh && compile.lsh_fusion) {
      CompileOptions off = quiet;
      off.lsh_fusion = false;
      PlannedStep p = plan_step(s.config, s.entry->name, off, plan_options, fuse, target);
      savings.push_back({"lsh fusion", p.plan.arena_bytes, main.plan.arena_bytes});
    }
  }

  std::string text;
  if (format == "json") {
    std::optional<BudgetNote> note;
    if (chosen) {
      note = BudgetNote{.budget_bytes = chosen->budget_bytes,
                        .by_default = s.flags.get("memory_budget") == "auto",
                        .stored_blocks = chosen->stored_blocks,
                        .blocks = chosen->blocks,
                        .ff_chunks = chosen->ff_chunks};
    }
    text = plan_to_json(main.plan, note, main.flops);
  } else if (format == "html") {
    const std::string title =
        chosen ? fmt::format("{} (as compiled; memory budget {}: {}; {:.2f} GFLOP a step)", s.entry->name,
                             format_bytes(chosen->budget_bytes), chosen->describe(), main.flops / 1e9)
               : fmt::format("{} (as compiled; {:.2f} GFLOP a step)", s.entry->name, main.flops / 1e9);
    std::vector<std::pair<std::string, const MemoryPlan*>> plans{{title, &main.plan}};
    if (without_recompute) plans.push_back({"reversible recompute off", &without_recompute->plan});
    text = plans_to_html(plans);
  } else {
    text = device == "cuda" ? "the plan of the GPU's memory (the CUDA target's back-end graph)\n" : "";
    text += plan_to_text(main.plan, savings);
    text += fmt::format("work: {:.2f} GFLOP a step as planned (recomputed blocks counted)\n", main.flops / 1e9);
    text += fmt::format("compiled and planned in {:.2f}s ({} nodes)\n", seconds, main.compiled.graph->size());
  }
  emit(s.flags, text, "memory plan");
  return 0;
}

const bool registered = [] {
  register_command({"plan", "print a model's memory plan (reforge plan <model> --help lists flags)", run_plan});
  return true;
}();

}  // namespace
}  // namespace reforge::cli
