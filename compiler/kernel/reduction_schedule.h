// How a target wants a reduction's loop nest shaped. A reduction op writes
// its own nest (lowering_hooks.h, OpDef::kernel); its semantics — which
// elements combine, in which order — are the op's, but some shapes of nest
// are only fast on some machines. The op offers those shapes and the
// Target (compiler/target/target.h) chooses among them with this schedule,
// so CPU tuning does not live in the op (Halide's split of algorithm and
// schedule). Every shape computes the op's result: maxima and argmaxes
// exactly; a float sum's order is not part of its meaning (the CPU's code
// may keep several partial sums of any nest).
//
// The default is the plain nest: one accumulator per output element, a
// loop over the reduced coordinates, each parallel iteration independent.
#pragma once

#include <cstdint>

namespace reforge::kir {

struct ReductionSchedule {
  // reduce_sum / reduce_max whose last axis is kept and next-to-last is
  // reduced (a bias gradient: the sum over the rows of [N, M]): walk the
  // input row by row, adding whole rows into the output row, when that row
  // has at most this many elements (0: never). The parallel loop is then
  // over the kept outer coordinates only.
  int64_t rows_into_row_max = 0;
  // Input rows added per pass over the output row in that form (it is
  // halved until it divides the number of rows).
  int64_t rows_per_pass = 1;

  // argmax over a line of at most this many elements is unrolled: each
  // element's coordinates are constants (0: always a loop).
  int64_t argmax_unrolled_max = 0;
  // argmax along an outer axis (the line's elements a row apart), at most
  // argmax_outer_max long and a multiple of argmax_outer_chains: unrolled
  // into that many running maxima over strided elements, then combined, as
  // argmax_lanes below. The innermost kept axis, contiguous, is the loop
  // the target vectorises (lines side by side in vector lanes); the chains
  // are independent, so their compares overlap instead of waiting on each
  // other (0: a plain loop or, up to argmax_unrolled_max, one chain).
  int64_t argmax_outer_chains = 0;
  int64_t argmax_outer_max = 0;
  // argmax over a longer float line, a multiple of argmax_lanes up to
  // argmax_lanes_max elements: argmax_lanes running maxima over strided
  // elements, then combined (0: never).
  int64_t argmax_lanes = 0;
  int64_t argmax_lanes_max = 0;
};

}  // namespace reforge::kir
