// Pass: merges nodes that compute the same thing — same op, same
// (already merged) inputs, same attributes and type. Sources and
// structured ops are never merged, nor are constants and layout copies of
// sources (free to recompute; merging would stretch their lifetime across
// the forward and backward passes). Random ops are pure functions of their
// key and stream, so equal draws merge too.
#pragma once

#include <memory>

#include "compiler/ir/graph.h"

namespace reforge {

std::unique_ptr<Graph> eliminate_common_subexpressions(const Graph& graph);

}  // namespace reforge
