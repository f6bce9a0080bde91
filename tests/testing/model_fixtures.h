// Shared set-ups for tests of whole models: a tiny Reformer config, feeds
// for its graph, and comparison of results.
#pragma once

#include <cstdint>
#include <vector>

#include "compiler/interpreter/interpreter.h"
#include "models/reformer_config.h"

namespace reforge::testing {

// Two layers (LSH then local attention), chunked feed-forward, L = 8:
// small enough for finite differences and exhaustive comparisons.
ReformerConfig tiny_reformer_config();

// One causal sequence small enough for f64 decode checks: window 16,
// d_model 16, 2 heads of 8, d_ff 24, vocabulary 11, two feed-forward
// chunks, with the given attention pattern, depth, hashes and chunks.
ReformerConfig tiny_decode_config(std::vector<AttentionKind> attention, int64_t layers, int64_t hashes,
                                  int64_t chunk_len);

// Initial parameters (from `seed`) plus one duplication-task batch, float
// inputs converted to the graph's float type.
ValueMap model_feeds(const Graph& graph, const ReformerConfig& config, uint64_t seed = 3);

// Largest elementwise |a - b|; the types must agree.
double max_difference(const HostTensor& a, const HostTensor& b);

}  // namespace reforge::testing
