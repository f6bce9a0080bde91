// The GEMM micro-kernel, generated: one LLVM function per module that the
// runtime's GEMM (runtime/gemm.h) runs its register blocks on.
//
//   void reforge_gemm_f32_<R>x<C>(ptr a, i64 a_row, i64 a_col, ptr panel,
//                                 i64 depth, ptr c, i64 ldc, i64 rows,
//                                 i64 width, i64 accumulate)
//
// keeps R rows x C columns of C in 2R vector registers over a packed
// panel: for each of `depth` steps, two vector loads of the panel and, per
// row, one scalar of A broadcast into two fused multiply-adds. Full blocks
// store whole vectors; edge blocks (rows < R or width < C) masked ones.
// The block follows the target: 8 x 32 (zmm) where it has AVX-512, 6 x 16
// (ymm) elsewhere, the shapes the runtime packs its panels for. Each
// element of C is the same chain of multiply-adds as in the runtime's own
// copy of the kernel, so the two give the same bits (tested).
#pragma once

#include <llvm/IR/Module.h>

#include "compiler/codegen/cpu/llvm_target.h"
#include "runtime/gemm.h"

namespace reforge::codegen {

// The register block for `target`: {8, 32} with AVX-512 (F and VL), else {6, 16}.
runtime::GemmBlock gemm_block_for(const CpuTarget& target);

// Adds the micro-kernel for `block` to `module`; returns its symbol.
std::string add_gemm_micro_kernel(llvm::Module& module, const runtime::GemmBlock& block);

}  // namespace reforge::codegen
