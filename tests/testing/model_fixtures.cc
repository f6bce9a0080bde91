#include "tests/testing/model_fixtures.h"

#include <gtest/gtest.h>

#include <cmath>

#include "models/tasks.h"

namespace reforge::testing {

ReformerConfig tiny_reformer_config() {
  ReformerConfig c;
  c.vocab_size = 7;
  c.seq_len = 8;
  c.batch = 2;
  c.d_model = 8;
  c.n_heads = 2;
  c.d_head = 4;
  c.d_ff = 12;
  c.n_layers = 2;
  c.chunk_len = 4;
  c.n_hashes = 2;
  c.attention = {AttentionKind::lsh, AttentionKind::local};
  c.ff_chunks = 2;
  return c;
}

ReformerConfig tiny_decode_config(std::vector<AttentionKind> attention, int64_t layers, int64_t hashes,
                                  int64_t chunk_len) {
  ReformerConfig c;
  c.vocab_size = 11;
  c.seq_len = 16;
  c.batch = 1;
  c.d_model = 16;
  c.n_heads = 2;
  c.d_head = 8;
  c.d_ff = 24;
  c.n_layers = layers;
  c.attention = std::move(attention);
  c.n_hashes = hashes;
  c.chunk_len = chunk_len;
  c.ff_chunks = 2;
  return c;
}

ValueMap model_feeds(const Graph& g, const ReformerConfig& c, uint64_t seed) {
  ValueMap feeds = initial_values(g, seed);
  for (auto& [name, value] : make_duplication_task(c, seed)->batch(1)) {
    if (is_float(value.dtype())) value.type.dtype = g.default_float();
    feeds[name] = value;
  }
  return feeds;
}

double max_difference(const HostTensor& a, const HostTensor& b) {
  EXPECT_EQ(a.type, b.type);
  double m = 0;
  for (int64_t i = 0; i < a.size() && i < b.size(); ++i) m = std::max(m, std::fabs(a[i] - b[i]));
  return m;
}

}  // namespace reforge::testing
