// The byte-level Reformer of byte-lm (local + LSH layers) with a gated
// feed-forward, GEGLU: gelu(x W1 + b1) * (x Wg + bg), then W2 (Shazeer,
// "GLU variants improve Transformer", 2020), chunked along the sequence as
// the plain one is. The gate's third matrix is paid for with a narrower
// d_ff: 96 x 3 columns of weights per layer against byte-lm's 128 x 2.
#include "models/variants/byte_lm.h"

REFORGE_REGISTER_MODEL(byte_lm_glu) {
  reforge::ModelEntry m = reforge::byte_lm_preset();
  m.name = "byte-lm-glu";
  m.summary = "2-layer byte-level Reformer with a gated (GEGLU) feed-forward";
  m.config.ff_gated = true;
  m.config.ff_activation = "gelu";
  m.config.d_ff = 96;
  return m;
}
