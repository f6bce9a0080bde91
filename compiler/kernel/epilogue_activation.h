// The activations a GEMM epilogue applies (matmul_epilogue's "activation"
// attribute): one-operand elementwise ops. The GEMM runs them as a kernel
// generated from the op's own element rule, the same code an unfused
// kernel of that op would run, over each finished row of a block of C.
#pragma once

#include <cstdint>

#include "compiler/ir/attributes.h"
#include "compiler/ir/op_def.h"
#include "compiler/kernel/kernel_ir.h"

namespace reforge::kir {

// The op `attrs` names as "activation"; nullptr when that is empty.
// Throws when it names no op whose OpDef::epilogue_stage is activation.
const OpDef* epilogue_activation(const AttrMap& attrs);

// x[i] = act(x[i]) for i in the launch's [begin, end), over the kernel's
// one buffer of `elements` values of `dtype`.
Kernel activation_kernel(const OpDef& activation, DType dtype, int64_t elements);

}  // namespace reforge::kir
