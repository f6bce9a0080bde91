#include "compiler/codegen/cpu/gemm_micro_kernel.h"

#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <algorithm>
#include <string>
#include <vector>

#include "base/error.h"

namespace reforge::codegen {

// The runtime packs for 8 x 32 where the CPU has AVX-512 F and VL
// (runtime/gemm.cc), 6 x 16 elsewhere.
runtime::GemmBlock gemm_block_for(const CpuTarget& target) {
  auto has = [&](const char* feature) {
    return std::find(target.required.begin(), target.required.end(), feature) != target.required.end();
  };
  return has("avx512f") && has("avx512vl") ? runtime::GemmBlock{8, 32} : runtime::GemmBlock{6, 16};
}

std::string add_gemm_micro_kernel(llvm::Module& module, const runtime::GemmBlock& block) {
  const std::string name = runtime::gemm_micro_kernel_symbol(block);
  llvm::LLVMContext& ctx = module.getContext();
  llvm::IRBuilder<> b(ctx);
  llvm::Type* f32 = b.getFloatTy();
  llvm::Type* i64 = b.getInt64Ty();
  llvm::Type* ptr = llvm::PointerType::get(ctx, 0);
  const auto lanes = static_cast<unsigned>(block.columns / 2);
  const int64_t rows_in_block = block.rows;
  auto* vector = llvm::FixedVectorType::get(f32, lanes);
  const llvm::Align element(4);

  auto* type = llvm::FunctionType::get(b.getVoidTy(), {ptr, i64, i64, ptr, i64, ptr, i64, i64, i64, i64}, false);
  auto* fn = llvm::Function::Create(type, llvm::Function::ExternalLinkage, name, module);
  fn->addFnAttr(llvm::Attribute::NoUnwind);
  for (unsigned arg : {0u, 3u, 5u}) fn->addParamAttr(arg, llvm::Attribute::NoAlias);  // restrict, as in C++
  llvm::Value *a = fn->getArg(0), *a_row = fn->getArg(1), *a_col = fn->getArg(2), *panel = fn->getArg(3),
              *depth = fn->getArg(4), *c = fn->getArg(5), *ldc = fn->getArg(6), *rows = fn->getArg(7),
              *width = fn->getArg(8);
  llvm::Value* accumulate = nullptr;

  auto* entry = llvm::BasicBlock::Create(ctx, "entry", fn);
  auto* loop = llvm::BasicBlock::Create(ctx, "loop", fn);
  auto* done = llvm::BasicBlock::Create(ctx, "done", fn);
  b.SetInsertPoint(entry);
  accumulate = b.CreateICmpNE(fn->getArg(9), b.getInt64(0), "accumulate");
  // Row r of A; rows past `rows` read row 0 (computed, never stored).
  std::vector<llvm::Value*> row(rows_in_block);
  for (int64_t r = 0; r < rows_in_block; ++r) {
    llvm::Value* valid = b.CreateICmpSLT(b.getInt64(r), rows);
    llvm::Value* offset = b.CreateMul(b.CreateSelect(valid, b.getInt64(r), b.getInt64(0)), a_row);
    row[r] = b.CreateInBoundsGEP(f32, a, offset, "row");
  }
  llvm::Value* zero = llvm::Constant::getNullValue(vector);
  b.CreateCondBr(b.CreateICmpSGT(depth, b.getInt64(0)), loop, done);

  // acc[r][h] += A(r, p) * panel[p][h * lanes, (h + 1) * lanes), p ascending.
  b.SetInsertPoint(loop);
  llvm::PHINode* p = b.CreatePHI(i64, 2, "p");
  p->addIncoming(b.getInt64(0), entry);
  std::vector<llvm::PHINode*> acc(2 * rows_in_block);
  for (auto& phi : acc) {
    phi = b.CreatePHI(vector, 2, "acc");
    phi->addIncoming(zero, entry);
  }
  llvm::Value* panel_row = b.CreateInBoundsGEP(f32, panel, b.CreateMul(p, b.getInt64(block.columns)));
  llvm::Value* half[2] = {
      b.CreateAlignedLoad(vector, panel_row, element, "b0"),
      b.CreateAlignedLoad(vector, b.CreateConstInBoundsGEP1_64(f32, panel_row, lanes), element, "b1")};
  std::vector<llvm::Value*> next(acc.size());
  for (int64_t r = 0; r < rows_in_block; ++r) {
    llvm::Value* x = b.CreateAlignedLoad(f32, b.CreateInBoundsGEP(f32, row[r], b.CreateMul(p, a_col)), element);
    llvm::Value* broadcast = b.CreateVectorSplat(lanes, x);
    for (int h = 0; h < 2; ++h) {
      // fmuladd: one fused multiply-add where the target has FMA, as the
      // runtime's C++ copy compiles to; a multiply and an add where not.
      next[2 * r + h] = b.CreateIntrinsic(llvm::Intrinsic::fmuladd, {vector}, {broadcast, half[h], acc[2 * r + h]});
    }
  }
  llvm::Value* p_next = b.CreateAdd(p, b.getInt64(1));
  p->addIncoming(p_next, loop);
  for (size_t i = 0; i < acc.size(); ++i) acc[i]->addIncoming(next[i], loop);
  b.CreateCondBr(b.CreateICmpSLT(p_next, depth), loop, done);

  // Store: C (+)= acc, whole vectors for a full block, masked at the edges.
  b.SetInsertPoint(done);
  std::vector<llvm::Value*> result(acc.size());
  for (size_t i = 0; i < acc.size(); ++i) {
    llvm::PHINode* phi = b.CreatePHI(vector, 2, "sum");
    phi->addIncoming(zero, entry);
    phi->addIncoming(next[i], loop);
    result[i] = phi;
  }
  auto* full = llvm::BasicBlock::Create(ctx, "full", fn);
  auto* edge = llvm::BasicBlock::Create(ctx, "edge", fn);
  auto* exit = llvm::BasicBlock::Create(ctx, "exit", fn);
  b.CreateCondBr(
      b.CreateAnd(b.CreateICmpEQ(rows, b.getInt64(rows_in_block)), b.CreateICmpEQ(width, b.getInt64(block.columns))),
      full, edge);

  auto c_half = [&](int64_t r, int h) {
    llvm::Value* at = b.CreateInBoundsGEP(f32, c, b.CreateMul(b.getInt64(r), ldc));
    return h == 0 ? at : b.CreateConstInBoundsGEP1_64(f32, at, lanes);
  };
  auto* full_add = llvm::BasicBlock::Create(ctx, "full_add", fn, edge);
  auto* full_set = llvm::BasicBlock::Create(ctx, "full_set", fn, edge);
  b.SetInsertPoint(full);
  b.CreateCondBr(accumulate, full_add, full_set);
  for (bool add : {true, false}) {
    b.SetInsertPoint(add ? full_add : full_set);
    for (int64_t r = 0; r < rows_in_block; ++r) {
      for (int h = 0; h < 2; ++h) {
        llvm::Value* to = c_half(r, h);
        llvm::Value* value = result[2 * r + h];
        if (add) value = b.CreateFAdd(b.CreateAlignedLoad(vector, to, element), value);
        b.CreateAlignedStore(value, to, element);
      }
    }
    b.CreateBr(exit);
  }

  // Lane j of half h is column h * lanes + j: stored where below `width`.
  b.SetInsertPoint(edge);
  llvm::Value* masks[2];
  for (int h = 0; h < 2; ++h) {
    std::vector<llvm::Constant*> columns;
    for (unsigned j = 0; j < lanes; ++j) columns.push_back(b.getInt64(h * lanes + j));
    masks[h] = b.CreateICmpSLT(llvm::ConstantVector::get(columns), b.CreateVectorSplat(lanes, width), "mask");
  }
  for (int64_t r = 0; r < rows_in_block; ++r) {
    auto* store_row = llvm::BasicBlock::Create(ctx, "edge_row", fn, exit);
    auto* after = llvm::BasicBlock::Create(ctx, "edge_next", fn, exit);
    b.CreateCondBr(b.CreateICmpSLT(b.getInt64(r), rows), store_row, after);
    b.SetInsertPoint(store_row);
    for (int h = 0; h < 2; ++h) {
      llvm::Value* to = c_half(r, h);
      llvm::Value* old = b.CreateMaskedLoad(vector, to, element, masks[h], zero);
      llvm::Value* sum = b.CreateFAdd(old, result[2 * r + h]);
      b.CreateMaskedStore(b.CreateSelect(accumulate, sum, result[2 * r + h]), to, element, masks[h]);
    }
    b.CreateBr(after);
    b.SetInsertPoint(after);
  }
  b.CreateBr(exit);

  b.SetInsertPoint(exit);
  b.CreateRetVoid();
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyFunction(*fn, &os)) throw Error("internal error: the GEMM micro-kernel does not verify: " + problems);
  return name;
}

}  // namespace reforge::codegen
