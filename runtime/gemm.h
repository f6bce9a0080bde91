// Matrix multiply for the runtime library: C = A B for row-major A [m, k],
// B [k, n], C [m, n], in f32 or f64. B is packed in panels of 256 rows x
// 2 vectors, shared by the threads, which split C's rows; A is read in
// place. A register-blocked micro-kernel keeps a block of C in registers
// over a panel: 8 rows x 2 zmm vectors on AVX-512 (where Zen 5 doubles the
// FMA throughput of 256-bit code), 6 rows x 2 ymm vectors on AVX2+FMA, and
// the same in SSE pairs on baseline x86-64; the copy for the CPU is chosen
// at run time. Every copy with FMA gives the same bits, and so does every
// thread count.
#pragma once

#include <cstdint>
#include <string>

#include "runtime/thread_pool.h"

namespace reforge::runtime {

// Where the elements are, in elements: A(i, p) at a[i * a_row + p * a_col],
// B(p, j) at b[p * b_row + j * b_col], C(i, j) at c[i * c_row + j]. Strides
// let a caller multiply sub-matrices and transposed operands in place.
struct GemmLayout {
  int64_t a_row, a_col, b_row, b_col, c_row;
  // Row-major A [m, k], B [k, n], C [m, n], each possibly stored transposed.
  static GemmLayout dense(int64_t m, int64_t n, int64_t k, bool a_transposed = false, bool b_transposed = false) {
    return {a_transposed ? 1 : k, a_transposed ? m : 1, b_transposed ? 1 : n, b_transposed ? k : 1, n};
  }
};

// A register-blocked micro-kernel the compiler generated (compiler/codegen/
// cpu/gemm_micro_kernel): C[rows x width] (+)= A[rows x depth] x panel, A's
// element (r, p) at a[r * a_row + p * a_col], the panel depth rows of
// `columns` packed floats; rows <= its block's rows, width <= columns.
using GemmMicroKernel = void (*)(const float* a, int64_t a_row, int64_t a_col, const float* panel, int64_t depth,
                                 float* c, int64_t ldc, int64_t rows, int64_t width, int64_t accumulate);

// The register block the runtime packs panels for on this CPU, and the
// symbol a generated micro-kernel of that block has ("reforge_gemm_f32_8x32":
// 8 rows x 32 columns, AVX-512; "..._6x16" otherwise). Code generated for
// another block is not used here.
struct GemmBlock {
  int64_t rows, columns;
};
GemmBlock host_gemm_block();
inline std::string gemm_block_name(const GemmBlock& block) {  // "8x32"
  return std::to_string(block.rows) + "x" + std::to_string(block.columns);
}
inline std::string gemm_micro_kernel_symbol(const GemmBlock& block) {
  return "reforge_gemm_f32_" + gemm_block_name(block);
}

// For progress lines: which micro-kernel a program's matmuls run on.
inline std::string describe_gemm(bool generated) {
  const std::string block = gemm_block_name(host_gemm_block());
  return generated ? "GEMM on the generated " + block + " micro-kernel"
                   : "GEMM on the runtime's " + block + " micro-kernel (the code has none for this CPU)";
}

// Generated code a GEMM epilogue runs: a compiled program's kernel,
// kernel(buffers, begin, end), over flat elements [begin, end).
using EpilogueKernel = void (*)(void* const* buffers, int64_t begin, int64_t end);

// What the GEMM does to each block of C right after the block's last
// product, while it is in cache, in this order:
//   + bias[j]        (bias [n], broadcast over the rows)
//   activation       (in place: the kernel, given C as its one buffer,
//                     over the block's rows as flat elements of C)
//   + residual[i, j] (laid out like C)
// The bits are those of the product followed by each step on its own.
template <typename T>
struct GemmEpilogue {
  const T* bias = nullptr;
  EpilogueKernel activation = nullptr;
  const T* residual = nullptr;
};

// With a pool, large products split C's rows between its threads; without
// one (or when small) the calling thread does all. With `generated` (of
// host_gemm_block()'s shape) the register blocks run on it, else on the
// runtime's own copy; the two give the same bits. Generated micro-kernels
// are float only: the double GEMM takes `generated` so callers need not
// tell the types apart, and always runs on its own copy.
void gemm(const float* a, const float* b, float* c, int64_t m, int64_t n, int64_t k, const GemmLayout& layout,
          ThreadPool* pool = nullptr, GemmMicroKernel generated = nullptr, const GemmEpilogue<float>& epilogue = {});
void gemm(const double* a, const double* b, double* c, int64_t m, int64_t n, int64_t k, const GemmLayout& layout,
          ThreadPool* pool = nullptr, GemmMicroKernel generated = nullptr, const GemmEpilogue<double>& epilogue = {});

// One-thread products on a fixed micro-kernel choice: the fused attention
// kernels' chunk products (the program's generated one, or null).
struct ChunkGemm {
  GemmMicroKernel generated = nullptr;
  template <typename T>
  void operator()(const T* a, const T* b, T* c, int64_t m, int64_t n, int64_t k, const GemmLayout& layout) const {
    gemm(a, b, c, m, n, k, layout, nullptr, generated);
  }
};

}  // namespace reforge::runtime
