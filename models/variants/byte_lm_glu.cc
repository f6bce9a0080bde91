// The byte-level Reformer (local + LSH layers, as byte-lm) with a gated
// feed-forward, GEGLU: gelu(x W1 + b1) * (x Wg + bg), then W2 (Shazeer,
// "GLU variants improve Transformer", 2020), chunked along the sequence as
// the plain one is. The gate's third matrix is paid for with a narrower
// d_ff: 96 x 3 columns of weights per layer against byte-lm's 128 x 2.
#include "models/model_registry.h"

REFORGE_REGISTER_MODEL(byte_lm_glu) {
  reforge::ModelEntry m{
      "byte-lm-glu", "2-layer byte-level Reformer with a gated (GEGLU) feed-forward", {}, reforge::byte_lm_task};
  m.config.seq_len = 64;
  m.config.batch = 2;
  m.config.d_model = 64;
  m.config.n_heads = 2;
  m.config.d_head = 32;
  m.config.n_layers = 2;
  m.config.attention = {reforge::AttentionKind::local, reforge::AttentionKind::lsh};
  m.config.n_hashes = 2;
  m.config.chunk_len = 16;
  m.config.ff_gated = true;
  m.config.ff_activation = "gelu";
  m.config.d_ff = 96;
  m.config.ff_chunks = 2;
  m.config.learning_rate = 3e-3;
  return m;
}
