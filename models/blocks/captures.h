// Region captures by name. A captures struct lists its tensors once, in
// operand order, through `fields`; pack() (building a region's operands)
// and unpack() (reading them inside the region) both walk that one list,
// so the two cannot drift apart. Absent optional tensors are skipped on
// both sides.
#pragma once

#include <cstddef>
#include <vector>

#include "compiler/ir/graph.h"

namespace reforge {

template <typename Captures>
std::vector<Tensor> pack(Captures captures) {
  std::vector<Tensor> operands;
  captures.fields([&](Tensor& t) {
    if (t.valid()) operands.push_back(t);
  });
  return operands;
}

// The region's view of `outer`: the same fields, bound to `args` from
// `first` on.
template <typename Captures>
Captures unpack(Captures outer, const std::vector<Tensor>& args, size_t first) {
  size_t next = first;
  outer.fields([&](Tensor& t) {
    if (t.valid()) t = args.at(next++);
  });
  return outer;
}

}  // namespace reforge
