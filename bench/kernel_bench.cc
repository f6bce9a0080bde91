// The runtime's kernels against the machine's references, side by side:
//   - GEMM (runtime/gemm.cc through the library's matmul) against OpenBLAS
//     sgemm on the Reformer's shapes, 1 and 2 threads;
//   - generated memory-bound kernels (an elementwise triad, a row
//     reduction) against a STREAM triad, on arrays far larger than the
//     last-level cache.
// Run: bench/install_deps.sh && bazel run -c opt //bench:kernel_bench
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <random>
#include <thread>
#include <vector>

#include "compiler/dsl/dsl.h"
#include "compiler/pipeline/cpu_executable.h"
#include "runtime/kernels/lsh_attention_kernel.h"
#include "runtime/library.h"
#include "runtime/thread_pool.h"

extern "C" void openblas_set_num_threads(int);

namespace reforge {
namespace {

// ---- GEMM: C[m,n] = A[m,k] B[k,n] ----

void gemm_args(benchmark::internal::Benchmark* b) {
  // FF layers (per chunk and whole), attention projections, LSH chunk products.
  for (auto [m, n, k] : std::vector<std::array<int64_t, 3>>{
           {1024, 1024, 256}, {1024, 256, 1024}, {1024, 256, 256}, {128, 1024, 256}, {64, 128, 64}}) {
    for (int64_t threads : {1, 2}) b->Args({m, n, k, threads, 0, 0});
  }
  // The P1 training step at L = 4K (feed-forward chunks of 512 rows): the
  // backward's products with a transposed operand (A^T B for weight
  // gradients, A B^T for input gradients); then the feed-forward's at
  // L = 64K (chunks of 8192 rows), forward and backward.
  for (auto [m, n, k, a_t, b_t] : std::vector<std::array<int64_t, 5>>{{512, 1024, 256, 0, 1},
                                                                      {1024, 256, 512, 1, 0},
                                                                      {512, 256, 1024, 0, 1},
                                                                      {256, 1024, 512, 1, 0},
                                                                      {256, 256, 4096, 1, 0},
                                                                      {4096, 256, 256, 0, 1},
                                                                      {8192, 1024, 256, 0, 0},
                                                                      {8192, 256, 1024, 0, 0},
                                                                      {8192, 1024, 256, 0, 1},
                                                                      {8192, 256, 1024, 0, 1},
                                                                      {1024, 256, 8192, 1, 0},
                                                                      {256, 1024, 8192, 1, 0}}) {
    for (int64_t threads : {1, 2}) b->Args({m, n, k, threads, a_t, b_t});
  }
  b->ArgNames({"m", "n", "k", "threads", "at", "bt"})->UseRealTime();
}

void BM_ReforgeGemm(benchmark::State& state) {
  int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  runtime::ThreadPool pool(static_cast<int>(state.range(3)));
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n);
  void* buffers[] = {a.data(), b.data(), c.data()};
  std::vector<int64_t> ints = {static_cast<int64_t>(DType::f32), 1, m, n, k, state.range(4), state.range(5)};
  runtime::LibraryFunction matmul = runtime::find_library_function("matmul");
  for (auto _ : state) {
    matmul({buffers, ints.data(), static_cast<int64_t>(ints.size()), nullptr, pool});
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_ReforgeGemm)->Apply(gemm_args);

void BM_OpenblasSgemm(benchmark::State& state) {
  int64_t m = state.range(0), n = state.range(1), k = state.range(2);
  openblas_set_num_threads(static_cast<int>(state.range(3)));
  std::vector<float> a(m * k, 0.5f), b(k * n, 0.25f), c(m * n);
  const bool a_t = state.range(4) != 0, b_t = state.range(5) != 0;
  for (auto _ : state) {
    cblas_sgemm(CblasRowMajor, a_t ? CblasTrans : CblasNoTrans, b_t ? CblasTrans : CblasNoTrans, m, n, k, 1.0f,
                a.data(), a_t ? m : k, b.data(), b_t ? k : n, 0.0f, c.data(), n);
    benchmark::DoNotOptimize(c.data());
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * m * n * k, benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_OpenblasSgemm)->Apply(gemm_args);

// ---- memory-bound: 3 x 128 MiB arrays (f32), far beyond the L3 ----

constexpr int64_t kElements = 32 << 20;

void set_bytes(benchmark::State& state, int64_t bytes_per_iteration) {
  state.counters["GB/s"] =
      benchmark::Counter(static_cast<double>(bytes_per_iteration), benchmark::Counter::kIsIterationInvariantRate,
                         benchmark::Counter::kIs1000);
}

// STREAM's triad, vectorised whatever the build's optimisation level.
__attribute__((optimize("O3"), noinline)) void triad(float* __restrict a, const float* __restrict b,
                                                     const float* __restrict c, float s, int64_t n) {
  for (int64_t i = 0; i < n; ++i) a[i] = b[i] + s * c[i];
}

// STREAM's triad a = b + s c, split over the threads like the runtime's loops.
void BM_StreamTriad(benchmark::State& state) {
  runtime::ThreadPool pool(static_cast<int>(state.range(0)));
  std::vector<float> a(kElements), b(kElements, 1.0f), c(kElements, 2.0f);
  for (auto _ : state) {
    pool.parallel_for(kElements, [&](int64_t begin, int64_t end) {
      triad(a.data() + begin, b.data() + begin, c.data() + begin, 3.0f, end - begin);
    });
    benchmark::DoNotOptimize(a.data());
  }
  set_bytes(state, 3 * kElements * sizeof(float));
}
BENCHMARK(BM_StreamTriad)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();

// The same triad as a graph, compiled: one generated elementwise kernel.
void BM_CompiledTriad(benchmark::State& state) {
  Graph g("triad");
  Tensor x = g.input("x", {DType::f32, {kElements / 1024, 1024}});
  Tensor y = g.input("y", {DType::f32, {kElements / 1024, 1024}});
  g.output("a", x + 3.0 * y);
  auto e = CpuExecutable::build(g, {}, {.threads = static_cast<int>(state.range(0))});
  for (auto _ : state) e->run();
  set_bytes(state, 3 * kElements * sizeof(float));
}
BENCHMARK(BM_CompiledTriad)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();

// Generated reductions of a [32M/1024, 1024] array: the sum of each row
// (axis 1) and of each column (axis 0, a bias gradient's shape).
void BM_CompiledSum(benchmark::State& state, int64_t axis) {
  Graph g("sum");
  Tensor x = g.input("x", {DType::f32, {kElements / 1024, 1024}});
  g.output("s", sum(x, {axis}));
  auto e = CpuExecutable::build(g, {}, {.threads = static_cast<int>(state.range(0))});
  for (auto _ : state) e->run();
  set_bytes(state, kElements * sizeof(float));
}
BENCHMARK_CAPTURE(BM_CompiledSum, rows, 1)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
BENCHMARK_CAPTURE(BM_CompiledSum, columns, 0)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();

// ---- the fused LSH-attention kernel: one (example, head) slice of P1 ----
// L tokens, 4 rounds, chunk 64, d_k = d_v = 64, causal; one thread. The
// rate counts the chunk products only (QK^T and PV forward; the backward
// recomputes both and adds four more), so it reads against the GEMM's.

void BM_LshAttention(benchmark::State& state) {
  const bool backward = state.range(1) != 0;
  kernels::LshShape s{.length = state.range(0), .rounds = 4, .chunk = 64, .dk = 64, .dv = 64};
  s.valid = s.length;
  s.per_round = s.length / s.chunk;
  s.causal = true;
  std::mt19937 rng(7);
  std::normal_distribution<float> normal;
  std::vector<float> q(s.length * s.dk), v(s.length * s.dv), g(s.length * s.dv), out(s.length * (s.dk + s.dv));
  for (auto* x : {&q, &v, &g}) {
    for (float& e : *x) e = normal(rng);
  }
  std::vector<int64_t> buckets(s.rounds * s.length);
  for (int64_t& b : buckets) b = static_cast<int64_t>(rng() % static_cast<uint32_t>(s.per_round));
  using Slice = kernels::LshSlice<float, int64_t>;
  std::vector<std::byte> workspace(Slice::scratch_bytes(s, backward) + 64);
  for (auto _ : state) {
    kernels::Scratch scratch(workspace.data());
    Slice slice(s, q.data(), v.data(), buckets.data(), scratch, backward);
    if (backward) {
      slice.forward_backward(g.data(), out.data());
    } else {
      slice.forward(out.data());
    }
    benchmark::DoNotOptimize(out.data());
  }
  const double chunk_product = 2.0 * s.chunk * 2 * s.chunk * s.dk;
  const double products = backward ? 2 + 1 + 4 : 2;  // forward, then the logits again and dP, dQ, dK, dV
  state.counters["GFLOP/s"] =
      benchmark::Counter(products * chunk_product * s.rounds * s.length / s.chunk,
                         benchmark::Counter::kIsIterationInvariantRate, benchmark::Counter::kIs1000);
}
BENCHMARK(BM_LshAttention)->ArgsProduct({{4096, 16384, 65536}, {0, 1}})->ArgNames({"L", "backward"})->UseRealTime();

}  // namespace
}  // namespace reforge

BENCHMARK_MAIN();
