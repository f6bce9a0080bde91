// Benchmarks of the compiler's front half: compiling and planning the
// training step of a large Reformer (12 layers, L = 65,536), compile and
// plan time against depth (12 to 96 layers), and one
// training step of the copy-task model on the reference interpreter.
//
//   bazel run -c opt //bench:compiler_bench -- --benchmark_repetitions=3
#include <benchmark/benchmark.h>

#include "compiler/interpreter/trainer.h"
#include "compiler/pipeline/compile.h"
#include "models/model_registry.h"
#include "models/reformer.h"
#include "models/reformer_step.h"
#include "models/tasks.h"

namespace reforge {
namespace {

ReformerConfig long_sequence_config(int64_t layers) {
  ReformerConfig c = find_model("byte-lm").config;
  c.n_layers = layers;
  c.seq_len = 65536;
  c.batch = 1;
  c.chunk_len = 128;
  c.d_model = 256;
  c.n_heads = 4;
  c.d_head = 64;
  c.d_ff = 1024;
  c.ff_chunks = 8;
  c.axial_rows = 256;
  c.axial_cols = 256;
  return c;
}

void BM_CompileAndPlan64K(benchmark::State& state) {
  ReformerConfig c = long_sequence_config(state.range(0));
  int64_t peak = 0;
  for (auto _ : state) {
    CompiledStep step = compile_reformer_step(c);
    peak = plan_step_memory(step).arena_bytes;
    benchmark::DoNotOptimize(peak);
  }
  state.counters["peak_MiB"] = static_cast<double>(peak) / (1 << 20);
}
BENCHMARK(BM_CompileAndPlan64K)->Arg(2)->Arg(12)->Unit(benchmark::kMillisecond)->Iterations(1);

// Compile and plan time against depth (the copy-task model): about linear
// is the goal; per-layer time is reported so growth shows at a glance.
void BM_CompileAndPlanDepth(benchmark::State& state) {
  ReformerConfig c = find_model("duplication").config;
  c.n_layers = state.range(0);
  for (auto _ : state) {
    CompiledStep step = compile_reformer_step(c);
    benchmark::DoNotOptimize(plan_step_memory(step).arena_bytes);
  }
  // Seconds per iteration per layer.
  state.counters["s_per_layer"] = benchmark::Counter(
      static_cast<double>(c.n_layers), benchmark::Counter::kIsIterationInvariantRate | benchmark::Counter::kInvert);
}
BENCHMARK(BM_CompileAndPlanDepth)->Arg(12)->Arg(24)->Arg(48)->Arg(96)->Unit(benchmark::kMillisecond);

void BM_InterpreterTrainingStep(benchmark::State& state) {
  const ModelEntry& entry = find_model("duplication");
  CompiledStep step = compile_reformer_step(entry.config);
  auto task = make_duplication_task(entry.config, 1);
  InterpreterTrainer trainer(*step.graph, step.step, 1);
  int64_t s = 0;
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step(task->batch(++s)));
  state.counters["tokens/s"] = benchmark::Counter(static_cast<double>(entry.config.batch * entry.config.seq_len),
                                                  benchmark::Counter::kIsIterationInvariantRate);
}
BENCHMARK(BM_InterpreterTrainingStep)->Unit(benchmark::kMillisecond);

}  // namespace
}  // namespace reforge

BENCHMARK_MAIN();
