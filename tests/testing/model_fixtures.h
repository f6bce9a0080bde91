// Shared set-ups for tests of whole models: a tiny Reformer config, feeds
// for its graph, and comparison of results.
#pragma once

#include <cstdint>

#include "compiler/interpreter/interpreter.h"
#include "models/reformer_config.h"

namespace reforge::testing {

// Two layers (LSH then local attention), chunked feed-forward, L = 8:
// small enough for finite differences and exhaustive comparisons.
ReformerConfig tiny_reformer_config();

// Initial parameters (from `seed`) plus one duplication-task batch, float
// inputs converted to the graph's float type.
ValueMap model_feeds(const Graph& graph, const ReformerConfig& config, uint64_t seed = 3);

// Largest elementwise |a - b|; the types must agree.
double max_difference(const HostTensor& a, const HostTensor& b);

}  // namespace reforge::testing
