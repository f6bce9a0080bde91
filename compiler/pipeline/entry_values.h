// The interpreter's values (HostTensor: doubles) into and out of a runtime
// entry point, converted to and from the element types the program
// stores: how the JIT's test driver (CpuTrainer) and the training
// sessions feed a runtime::Model.
#pragma once

#include <vector>

#include "compiler/interpreter/interpreter.h"
#include "runtime/reforge_runtime.h"

namespace reforge {

// Writes every input of `entry` from `values` (extra values are ignored);
// an Error names an input that `values` lacks or gives with another type.
void set_inputs(runtime::Entry& entry, const ValueMap& values);

// The values of `outputs` (of `entry`'s last run).
ValueMap read_outputs(const runtime::Entry& entry, const std::vector<runtime::ProgramOutput>& outputs);

}  // namespace reforge
