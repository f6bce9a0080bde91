// Two opened models of one network trained side by side on the same
// inputs — a CUDA artifact against the CPU artifact (tests/runtime/
// cuda_model_test on the stand-in driver; tests/gpu/gpu_check with P1 on a
// real GPU). Links no LLVM: it drives runtime::Model alone.
#pragma once

#include <cstdint>

#include "runtime/reforge_runtime.h"

namespace reforge::testing {

// Writes every input of `entry` for step `step`, the same bytes on every
// machine: integers (tokens, targets, the random key) spread over
// [0, vocab), floats (loss weights) 1.
void feed_synthetic(runtime::Entry& entry, int64_t step, int64_t vocab);

struct PairDifference {
  double loss = 0;        // the largest |a - b| / |b| of a step's loss
  double persistent = 0;  // the largest |a - b| / (1 + |b|) of a parameter or moment after the steps
};

// Initialises both from `seed`, runs `steps` training steps on each and
// compares; `got` against `want`. Their parameters must be f32.
PairDifference train_side_by_side(runtime::Model& got, runtime::Model& want, int steps, int64_t vocab, uint64_t seed);

}  // namespace reforge::testing
