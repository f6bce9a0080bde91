#include "compiler/kernel/epilogue_activation.h"

#include <fmt/format.h>

#include "compiler/ir/graph.h"
#include "compiler/kernel/kernel_builder.h"
#include "compiler/kernel/lowering_hooks.h"

namespace reforge::kir {

const OpDef* epilogue_activation(const AttrMap& attrs) {
  const std::string& name = attrs.get_string("activation");
  if (name.empty()) return nullptr;
  const OpDef* def = find_op(name);
  if (def == nullptr || def->epilogue_stage != EpilogueStage::activation) throw Error(fmt::format("'{}' is not an activation a matmul epilogue applies", name));
  return def;
}

Kernel activation_kernel(const OpDef& activation, DType dtype, int64_t elements) {
  // The op's element rule wants its node: one in a graph of its own.
  Graph g("activation");
  const TensorType type{dtype, {elements}};
  const Node& node = g.node(g.add(activation.name, {g.input("x", type)}, {}, SourceLoc{}).id);
  KernelBuilder b(activation.name);
  // One buffer, read and written at the same index: two pointers to the
  // same bytes would make the loop vectoriser's overlap check fail at run
  // time, and the scalar loop (scalar tanhf) gives other bits than the
  // vector one an unfused kernel runs.
  const int x = b.buffer("x", dtype, elements, true);
  const ValueId i = b.begin_loop(elements);
  const std::vector<TensorType> types{type};
  const std::vector<ValueId> coords{i};
  InputReader read = [&](int, const std::vector<ValueId>& at) { return b.load(x, at.at(0)); };
  b.store(x, i, activation.element({b, node, types, coords, read}));
  b.end_loop();
  return b.finish();
}

}  // namespace reforge::kir
