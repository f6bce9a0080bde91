#include "compiler/codegen/cpu/llvm_renderer.h"

#include <fmt/format.h>
#include <llvm/IR/IRBuilder.h>
#include <llvm/IR/Intrinsics.h>
#include <llvm/IR/Verifier.h>
#include <llvm/Support/raw_ostream.h>

#include <map>

#include "base/error.h"

namespace reforge::codegen {
namespace {

using kir::BinaryOp;
using kir::ExprKind;
using kir::StmtKind;
using kir::UnaryOp;

class KernelRenderer {
 public:
  KernelRenderer(const kir::Kernel& k, llvm::Module& m) : k_(k), m_(m), ctx_(m.getContext()), b_(ctx_) {}

  void run() {
    llvm::Type* ptr = llvm::PointerType::get(ctx_, 0);
    llvm::Type* i64 = b_.getInt64Ty();
    auto* type = llvm::FunctionType::get(b_.getVoidTy(), {ptr, i64, i64}, false);
    fn_ = llvm::Function::Create(type, llvm::Function::ExternalLinkage, k_.name, m_);
    fn_->addFnAttr(llvm::Attribute::NoUnwind);
    auto* entry = llvm::BasicBlock::Create(ctx_, "entry", fn_);
    b_.SetInsertPoint(entry);
    llvm::Value* buffers = fn_->getArg(0);
    for (size_t i = 0; i < k_.buffers.size(); ++i) {
      llvm::Value* slot = b_.CreateConstInBoundsGEP1_64(ptr, buffers, i);
      buffers_.push_back(b_.CreateLoad(ptr, slot, fmt::format("buf{}", i)));
    }
    for (DType t : k_.accumulators) accumulators_.push_back(b_.CreateAlloca(register_type(t)));
    scopes_.emplace_back();
    loop(k_.loop, fn_->getArg(1), fn_->getArg(2));
    b_.CreateRetVoid();
  }

 private:
  // Booleans are i1 in registers and one byte in memory.
  llvm::Type* register_type(DType t) {
    switch (t) {
      case DType::f32:
        return b_.getFloatTy();
      case DType::f64:
        return b_.getDoubleTy();
      case DType::i32:
        return b_.getInt32Ty();
      case DType::i64:
        return b_.getInt64Ty();
      case DType::boolean:
        return b_.getInt1Ty();
    }
    return nullptr;
  }
  llvm::Type* memory_type(DType t) { return t == DType::boolean ? b_.getInt8Ty() : register_type(t); }

  void loop(const kir::Stmt& s, llvm::Value* begin, llvm::Value* end) {
    llvm::BasicBlock* preheader = b_.GetInsertBlock();
    auto* header = llvm::BasicBlock::Create(ctx_, fmt::format("loop{}", s.var), fn_);
    auto* body = llvm::BasicBlock::Create(ctx_, fmt::format("body{}", s.var), fn_);
    auto* exit = llvm::BasicBlock::Create(ctx_, fmt::format("exit{}", s.var), fn_);
    b_.CreateBr(header);
    b_.SetInsertPoint(header);
    llvm::PHINode* index = b_.CreatePHI(b_.getInt64Ty(), 2, fmt::format("i{}", s.var));
    index->addIncoming(begin, preheader);
    b_.CreateCondBr(b_.CreateICmpSLT(index, end), body, exit);
    b_.SetInsertPoint(body);
    loop_index_[s.var] = index;
    scopes_.emplace_back();
    for (const kir::Stmt& inner : s.body) statement(inner);
    scopes_.pop_back();
    llvm::Value* next = b_.CreateAdd(index, b_.getInt64(1), "", /*HasNUW=*/true, /*HasNSW=*/true);
    index->addIncoming(next, b_.GetInsertBlock());
    llvm::BranchInst* back = b_.CreateBr(header);
    if (!s.vectorize) keep_scalar(back);
    b_.SetInsertPoint(exit);
  }

  // Loop metadata on the back edge: no vectorising across iterations.
  void keep_scalar(llvm::BranchInst* back_edge) {
    llvm::Metadata* off[] = {llvm::MDString::get(ctx_, "llvm.loop.vectorize.enable"),
                             llvm::ConstantAsMetadata::get(b_.getFalse())};
    llvm::Metadata* operands[] = {nullptr, llvm::MDNode::get(ctx_, off)};
    llvm::MDNode* loop_id = llvm::MDNode::getDistinct(ctx_, operands);
    loop_id->replaceOperandWith(0, loop_id);  // a loop ID names itself
    back_edge->setMetadata(llvm::LLVMContext::MD_loop, loop_id);
  }

  void statement(const kir::Stmt& s) {
    switch (s.kind) {
      case StmtKind::loop:
        loop(s, b_.getInt64(0), b_.getInt64(s.extent));
        break;
      case StmtKind::store: {
        const kir::BufferParam& p = k_.buffers[s.target];
        llvm::Value* index = value(s.index);
        llvm::Value* v = value(s.value);
        if (p.type == DType::boolean) v = b_.CreateZExt(v, b_.getInt8Ty());
        b_.CreateStore(v, b_.CreateInBoundsGEP(memory_type(p.type), buffers_[s.target], index));
        break;
      }
      case StmtKind::assign: {
        llvm::Value* v = value(s.value);
        allow_reassociation(s);
        b_.CreateStore(v, accumulators_[s.target]);
        break;
      }
    }
  }

  // A float sum or product into an accumulator may be reassociated, so the
  // loop vectoriser can keep several partial sums (the order of a
  // reduction is not part of an op's meaning; tests allow for it).
  void allow_reassociation(const kir::Stmt& s) {
    const kir::Expr& e = k_.exprs[s.value];
    if (e.kind != ExprKind::binary || !is_float(e.type)) return;
    auto op = static_cast<BinaryOp>(e.op);
    if (op != BinaryOp::add && op != BinaryOp::mul) return;
    bool reads_target = false;
    for (kir::ValueId operand : e.operands) {
      reads_target = reads_target ||
                     (operand >= 0 && k_.exprs[operand].kind == ExprKind::read && k_.exprs[operand].var == s.target);
    }
    auto emitted = scopes_.back().find(s.value);
    if (!reads_target || emitted == scopes_.back().end()) return;
    auto* instruction = llvm::dyn_cast<llvm::Instruction>(emitted->second);
    if (!instruction || !llvm::isa<llvm::FPMathOperator>(instruction)) return;
    llvm::FastMathFlags flags = instruction->getFastMathFlags();
    flags.setAllowReassoc();
    instruction->setFastMathFlags(flags);
  }

  llvm::Value* value(kir::ValueId id) {
    for (auto it = scopes_.rbegin(); it != scopes_.rend(); ++it) {
      auto found = it->find(id);
      if (found != it->end()) return found->second;
    }
    llvm::Value* v = compute(k_.exprs[id]);
    if (k_.exprs[id].kind != ExprKind::read) scopes_.back()[id] = v;
    return v;
  }

  llvm::Value* constant(DType t, double v) {
    if (is_float(t)) return llvm::ConstantFP::get(register_type(t), v);
    return llvm::ConstantInt::get(register_type(t), static_cast<uint64_t>(static_cast<int64_t>(v)), true);
  }

  llvm::Value* call_intrinsic(llvm::Intrinsic::ID id, llvm::Value* x) { return b_.CreateUnaryIntrinsic(id, x); }

  // tanh from the C library (LLVM 19's intrinsic is not lowered everywhere).
  llvm::Value* call_libm(const char* float_name, const char* double_name, llvm::Value* x) {
    bool is_single = x->getType()->isFloatTy();
    llvm::FunctionCallee f = m_.getOrInsertFunction(is_single ? float_name : double_name, x->getType(), x->getType());
    if (auto* callee = llvm::dyn_cast<llvm::Function>(f.getCallee())) {
      callee->setDoesNotThrow();
      callee->setDoesNotAccessMemory();
    }
    return b_.CreateCall(f, {x});
  }

  llvm::Value* compute(const kir::Expr& e) {
    switch (e.kind) {
      case ExprKind::index:
        return loop_index_.at(e.var);
      case ExprKind::constant:
        return constant(e.type, e.value);
      case ExprKind::load: {
        llvm::Value* at = b_.CreateInBoundsGEP(memory_type(e.type), buffers_[e.buffer], value(e.operands[0]));
        llvm::Value* v = b_.CreateLoad(memory_type(e.type), at);
        return e.type == DType::boolean ? b_.CreateICmpNE(v, b_.getInt8(0)) : v;
      }
      case ExprKind::unary:
        return unary(static_cast<UnaryOp>(e.op), value(e.operands[0]), e.type);
      case ExprKind::binary: {
        llvm::Value* a = value(e.operands[0]);
        llvm::Value* c = value(e.operands[1]);
        return binary(static_cast<BinaryOp>(e.op), a, c, k_.exprs[e.operands[0]].type);
      }
      case ExprKind::select: {
        llvm::Value* condition = value(e.operands[0]);
        llvm::Value* if_true = value(e.operands[1]);
        return b_.CreateSelect(condition, if_true, value(e.operands[2]));
      }
      case ExprKind::cast:
        return cast(value(e.operands[0]), k_.exprs[e.operands[0]].type, e.type);
      case ExprKind::read:
        return b_.CreateLoad(register_type(e.type), accumulators_.at(e.var));
    }
    throw Error("kernel IR: unknown expression");
  }

  llvm::Value* unary(UnaryOp op, llvm::Value* x, DType t) {
    bool f = is_float(t);
    switch (op) {
      case UnaryOp::neg:
        return f ? b_.CreateFNeg(x) : b_.CreateNeg(x);
      case UnaryOp::exp:
        return call_intrinsic(llvm::Intrinsic::exp, x);
      case UnaryOp::log:
        return call_intrinsic(llvm::Intrinsic::log, x);
      case UnaryOp::sqrt:
        return call_intrinsic(llvm::Intrinsic::sqrt, x);
      case UnaryOp::tanh:
        return call_libm("tanhf", "tanh", x);
      case UnaryOp::abs:
        if (f) return call_intrinsic(llvm::Intrinsic::fabs, x);
        return b_.CreateSelect(b_.CreateICmpSLT(x, constant(t, 0)), b_.CreateNeg(x), x);
      case UnaryOp::logical_not:
        return b_.CreateNot(x);
    }
    throw Error("kernel IR: unknown unary op");
  }

  // Integer division and remainder rounding toward negative infinity; a
  // zero divisor yields 0.
  llvm::Value* floored(bool remainder, llvm::Value* a, llvm::Value* d, DType t) {
    llvm::Value* zero = constant(t, 0);
    llvm::Value* is_zero = b_.CreateICmpEQ(d, zero);
    llvm::Value* safe = b_.CreateSelect(is_zero, constant(t, 1), d);
    llvm::Value* q = b_.CreateSDiv(a, safe);
    llvm::Value* r = b_.CreateSRem(a, safe);
    llvm::Value* adjust = b_.CreateAnd(b_.CreateICmpNE(r, zero),
                                       b_.CreateICmpNE(b_.CreateICmpSLT(r, zero), b_.CreateICmpSLT(safe, zero)));
    llvm::Value* result = remainder ? b_.CreateSelect(adjust, b_.CreateAdd(r, safe), r)
                                    : b_.CreateSelect(adjust, b_.CreateSub(q, constant(t, 1)), q);
    return b_.CreateSelect(is_zero, zero, result);
  }

  llvm::Value* binary(BinaryOp op, llvm::Value* a, llvm::Value* c, DType t) {
    bool f = is_float(t);
    bool unsigned_compare = t == DType::boolean;
    using P = llvm::CmpInst::Predicate;
    auto compare = [&](P fp, P sp, P up) {
      return f ? b_.CreateFCmp(fp, a, c) : b_.CreateICmp(unsigned_compare ? up : sp, a, c);
    };
    switch (op) {
      case BinaryOp::add:
        return f ? b_.CreateFAdd(a, c) : b_.CreateAdd(a, c);
      case BinaryOp::sub:
        return f ? b_.CreateFSub(a, c) : b_.CreateSub(a, c);
      case BinaryOp::mul:
        return f ? b_.CreateFMul(a, c) : b_.CreateMul(a, c);
      case BinaryOp::div:
        return f ? b_.CreateFDiv(a, c) : floored(false, a, c, t);
      case BinaryOp::mod:
        if (f) throw Error("kernel IR: mod of floats");
        return floored(true, a, c, t);
      case BinaryOp::max:  // a >= b ? a : b, as the reference
        return b_.CreateSelect(compare(P::FCMP_OGE, P::ICMP_SGE, P::ICMP_UGE), a, c);
      case BinaryOp::min:
        return b_.CreateSelect(compare(P::FCMP_OLE, P::ICMP_SLE, P::ICMP_ULE), a, c);
      case BinaryOp::eq:
        return compare(P::FCMP_OEQ, P::ICMP_EQ, P::ICMP_EQ);
      case BinaryOp::ne:
        return compare(P::FCMP_UNE, P::ICMP_NE, P::ICMP_NE);
      case BinaryOp::lt:
        return compare(P::FCMP_OLT, P::ICMP_SLT, P::ICMP_ULT);
      case BinaryOp::le:
        return compare(P::FCMP_OLE, P::ICMP_SLE, P::ICMP_ULE);
      case BinaryOp::gt:
        return compare(P::FCMP_OGT, P::ICMP_SGT, P::ICMP_UGT);
      case BinaryOp::ge:
        return compare(P::FCMP_OGE, P::ICMP_SGE, P::ICMP_UGE);
      case BinaryOp::logical_and:
        return b_.CreateAnd(a, c);
      case BinaryOp::logical_or:
        return b_.CreateOr(a, c);
    }
    throw Error("kernel IR: unknown binary op");
  }

  llvm::Value* cast(llvm::Value* x, DType from, DType to) {
    llvm::Type* target = register_type(to);
    if (to == DType::boolean)
      return is_float(from) ? b_.CreateFCmpUNE(x, constant(from, 0)) : b_.CreateICmpNE(x, constant(from, 0));
    if (from == DType::boolean) return is_float(to) ? b_.CreateUIToFP(x, target) : b_.CreateZExt(x, target);
    if (is_float(from) && is_float(to)) return b_.CreateFPCast(x, target);
    if (is_float(from)) return b_.CreateFPToSI(x, target);
    if (is_float(to)) return b_.CreateSIToFP(x, target);
    return b_.CreateSExtOrTrunc(x, target);
  }

  const kir::Kernel& k_;
  llvm::Module& m_;
  llvm::LLVMContext& ctx_;
  llvm::IRBuilder<> b_;
  llvm::Function* fn_ = nullptr;
  std::vector<llvm::Value*> buffers_;
  std::vector<llvm::Value*> accumulators_;
  std::map<int, llvm::Value*> loop_index_;
  std::vector<std::map<kir::ValueId, llvm::Value*>> scopes_;
};

}  // namespace

std::unique_ptr<llvm::Module> render_llvm_module(const std::vector<kir::Kernel>& kernels, llvm::LLVMContext& context) {
  auto module = std::make_unique<llvm::Module>("reforge_kernels", context);
  for (const kir::Kernel& k : kernels) KernelRenderer(k, *module).run();
  std::string problems;
  llvm::raw_string_ostream os(problems);
  if (llvm::verifyModule(*module, &os)) throw Error("internal error: generated LLVM IR does not verify: " + problems);
  return module;
}

}  // namespace reforge::codegen
