#include "runtime/cuda_library.h"

#include <fmt/format.h>

#include <algorithm>
#include <set>

#include "base/error.h"
#include "runtime/kernels/chunked_attention_kernel.h"
#include "runtime/kernels/lsh_gpu_workspace.h"
#include "runtime/library_calls.h"

namespace reforge::runtime {
namespace {

// The kernels are named by their types (reforge_take_f32_i64); there are
// none for booleans.
std::string type_suffix(DType t) {
  if (t == DType::boolean) throw Error("the GPU library has no kernels for booleans");
  return std::string(dtype_name(t));
}

// Every buffer of the launch, in order.
std::vector<int> all_buffers(const Launch& l) {
  std::vector<int> buffers(l.buffers.size());
  for (size_t i = 0; i < buffers.size(); ++i) buffers[i] = static_cast<int>(i);
  return buffers;
}

template <typename Call>
Call decoded(const Launch& l) {
  return decode_call<Call>(l.ints);
}

// take, gather, index_add and scatter_add: one thread per element of the
// result; buffers as the call's.
template <typename Call>
CudaLibraryStep indexed(const Launch& l, const char* name, bool over_result) {
  const auto s = decoded<Call>(l);
  const int64_t result_extent = over_result ? s.extent : s.index_extent;
  return {.kernel = fmt::format("reforge_{}_{}_{}", name, type_suffix(s.value_type), type_suffix(s.index_type)),
          .threads = s.outer * result_extent * s.inner,
          .buffers = all_buffers(l),
          .constants = {s.outer, s.extent, s.inner, s.index_extent}};
}

template <typename Call>
CudaLibraryStep random(const Launch& l, const char* name) {
  const auto c = decoded<Call>(l);
  return {.kernel = fmt::format("reforge_{}_{}_{}", name, type_suffix(c.dtype), type_suffix(c.key_type)),
          .threads = c.elements,
          .buffers = {0, 1},
          .constants = {c.stream, 0}};  // one process: this replica's draw starts at 0
}

// C = A B, or with a bias: C = bias rows, then C += A B (the bias is
// added first, so that cuBLAS can take it as C with beta = 1).
std::vector<CudaLibraryStep> product(const MatmulCall& p, std::optional<int> bias, int a, int b, int c) {
  std::vector<CudaLibraryStep> steps;
  if (bias) {
    steps.push_back({.kernel = "reforge_bias_rows_" + type_suffix(p.dtype),
                     .threads = p.batch * p.m * p.n,
                     .buffers = {*bias, c},
                     .constants = {p.n}});
  }
  const CudaProduct shape{.dtype = p.dtype,
                          .batch = p.batch,
                          .m = p.m,
                          .n = p.n,
                          .k = p.k,
                          .a_transposed = p.a_transposed != 0,
                          .b_transposed = p.b_transposed != 0,
                          .accumulate = bias.has_value()};
  steps.push_back({.kernel = "reforge_matmul_" + type_suffix(p.dtype),
                   .threads = p.batch * p.m * p.n,
                   .buffers = {a, b, c},
                   .constants = {p.batch, p.m, p.n, p.k, p.a_transposed, p.b_transposed, bias.has_value()},
                   .product = shape});
  return steps;
}

// The product with its bias, then the activation (the generated
// epilogue, in place), then + residual.
std::vector<CudaLibraryStep> matmul_epilogue(const Launch& l) {
  const auto c = decoded<MatmulEpilogueCall>(l);
  const MatmulCall& p = c.product;
  const int result = c.operands();
  std::vector<CudaLibraryStep> steps =
      product(p, c.bias ? std::optional<int>(c.bias_buffer()) : std::nullopt, 0, 1, result);
  const int64_t elements = p.m * p.n;
  if (!l.epilogue.empty()) {
    steps.push_back({.kernel = l.epilogue, .generated_epilogue = true, .threads = elements, .buffers = {result}});
  }
  if (c.residual) {
    steps.push_back({.kernel = "reforge_add_in_place_" + type_suffix(p.dtype),
                     .threads = elements,
                     .buffers = {c.residual_buffer(), result}});
  }
  return steps;
}

// Fused local or full attention: one kernel over the query rows; its
// gradient, one over the query rows (keeping each row's maximum, 1 / its
// sum and g . out in the workspace, where the CPU kernel keeps them) and
// one over the key rows.
std::vector<CudaLibraryStep> chunked_attention(const Launch& l, bool backward) {
  const ChunkedAttentionCall f =
      backward ? decoded<ChunkedAttentionGradCall>(l).forward : decoded<ChunkedAttentionCall>(l);
  const kernels::ChunkedAttentionShape& s = f.shape;
  const int64_t stride = f.dtype == DType::f32
                             ? kernels::ChunkedAttentionSlice<float>::scratch_bytes(s, backward)
                             : kernels::ChunkedAttentionSlice<double>::scratch_bytes(s, backward);
  if (stride < 3 * s.length * dtype_bytes(f.dtype)) {
    throw Error("internal error: the attention workspace has no room for the GPU kernel's row values");
  }
  const std::vector<int> buffers = all_buffers(l);
  const std::vector<int64_t> constants = {f.slices,    s.length, s.chunk,     s.dk,        s.dv,
                                          s.valid,     s.look_back, s.causal, s.mask_self, stride};
  const std::string type = type_suffix(f.dtype);
  const int64_t rows = f.slices * s.length;
  if (!backward) return {{.kernel = "reforge_chunked_attention_" + type, .threads = rows, .buffers = buffers, .constants = constants}};
  return {{.kernel = "reforge_chunked_attention_grad_rows_" + type, .threads = rows, .buffers = buffers, .constants = constants},
          {.kernel = "reforge_chunked_attention_grad_keys_" + type, .threads = rows, .buffers = buffers, .constants = constants}};
}

// Fused LSH attention: the counting sort's five kernels, then a thread per
// position for the rows (and, for the gradient, one more for dq and dv).
// Each slice's values lie at the GPU layout's offsets in its part of the
// workspace (runtime/kernels/lsh_gpu_workspace.h).
std::vector<CudaLibraryStep> lsh_attention(const Launch& l, bool backward) {
  LshAttentionCall f;
  bool with_output = false;
  int64_t workspace = 0;
  if (backward) {
    const auto g = decoded<LshAttentionGradCall>(l);
    if (g.given_result) {
      throw Error(
          "lsh_attention_grad: the CUDA kernels run the forward themselves; a call given its result "
          "(given_result) is the CPU target's");
    }
    f = g.forward;
    with_output = g.with_output;
    workspace = g.workspace_bytes(LibraryDevice::cuda);
  } else {
    f = decoded<LshAttentionCall>(l);
    if (f.with_logsumexps) {
      throw Error(
          "lsh_attention: the CUDA kernels do not write the logsumexps after the result (with_logsumexps): "
          "that is the CPU target's");
    }
    workspace = f.workspace_bytes(LibraryDevice::cuda);
  }
  const kernels::LshShape& s = f.shape;
  const int64_t stride = workspace / std::max<int64_t>(f.slices, 1);
  const kernels::LshGpuWorkspace w = kernels::LshGpuWorkspace::of(s, dtype_bytes(f.dtype), backward);
  if (stride < w.bytes) throw Error("internal error: the LSH workspace has no room for the GPU kernels' values");
  const std::vector<int> buffers = all_buffers(l);
  // In the order the kernels' ReforgeLsh reads them (cuda_attention_source.h).
  const std::vector<int64_t> constants = {f.slices,      s.length,    s.rounds, s.chunk,        s.dk,     s.dv,
                                          s.valid,       s.per_round, s.causal, with_output,    stride,   w.sorted,
                                          w.where,       w.counts,    w.cursor, w.inverse_norm, w.weight, w.row_max,
                                          w.inverse_sum, w.g_dot,     backward};
  const std::string types = type_suffix(f.dtype) + "_" + type_suffix(f.bucket_type);
  auto step = [&](const char* kernel, int64_t threads) {
    return CudaLibraryStep{.kernel = fmt::format("reforge_lsh_{}_{}", kernel, types),
                           .threads = threads,
                           .buffers = buffers,
                           .constants = constants};
  };
  const int64_t positions = f.slices * s.length, slots = positions * s.rounds;
  std::vector<CudaLibraryStep> steps = {step("clear", f.slices * (s.rounds * s.per_round + 1)),
                                        step("count", slots),
                                        step("offsets", f.slices),
                                        step("place", slots),
                                        step("order", f.slices * s.rounds * s.per_round)};
  steps.push_back(step("rows", positions));
  if (backward) steps.push_back(step("gradient", positions));
  return steps;
}

}  // namespace

bool has_cuda_implementation(const std::string& f) {
  static const std::set<std::string> done = {"matmul",         "matmul_epilogue",   "take",
                                             "gather",         "index_add",         "scatter_add",
                                             "argsort",        "random_normal",     "random_uniform",
                                             "chunked_attention", "chunked_attention_grad",
                                             "lsh_attention",  "lsh_attention_grad"};
  return done.count(f) > 0;
}

std::vector<CudaLibraryStep> cuda_library_steps(const Launch& l) {
  const std::string& f = l.function;
  if (f == "matmul") return product(decoded<MatmulCall>(l), std::nullopt, 0, 1, 2);
  if (f == "matmul_epilogue") return matmul_epilogue(l);
  if (f == "take") return {indexed<TakeCall>(l, "take", false)};
  if (f == "gather") return {indexed<GatherCall>(l, "gather", false)};
  if (f == "index_add") return {indexed<IndexAddCall>(l, "index_add", true)};
  if (f == "scatter_add") return {indexed<ScatterAddCall>(l, "scatter_add", true)};
  if (f == "argsort") {
    const auto c = decoded<ArgsortCall>(l);
    return {{.kernel = "reforge_argsort_" + type_suffix(c.key_type),
             .threads = c.outer * c.extent * c.inner,
             .buffers = {0, 1},
             .constants = {c.outer, c.extent, c.inner}}};
  }
  if (f == "random_normal") return {random<RandomNormalCall>(l, "random_normal")};
  if (f == "random_uniform") return {random<RandomUniformCall>(l, "random_uniform")};
  if (f == "chunked_attention") return chunked_attention(l, false);
  if (f == "chunked_attention_grad") return chunked_attention(l, true);
  if (f == "lsh_attention") return lsh_attention(l, false);
  if (f == "lsh_attention_grad") return lsh_attention(l, true);
  throw Error(fmt::format("library function {} has no GPU implementation yet", f));
}

}  // namespace reforge::runtime
