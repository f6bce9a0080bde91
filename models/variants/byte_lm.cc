// Byte-level language models: a small Reformer mixing local and LSH layers
// (as trax's enwik8 configuration does), and its full-attention baseline.
#include "models/variants/byte_lm.h"

reforge::ModelEntry reforge::byte_lm_preset() {
  ModelEntry m{"byte-lm", "2-layer Reformer (local + LSH) byte-level language model", {}, byte_lm_task};
  m.config.seq_len = 64;
  m.config.batch = 2;
  m.config.d_model = 64;
  m.config.n_heads = 2;
  m.config.d_head = 32;
  m.config.d_ff = 128;
  m.config.n_layers = 2;
  m.config.attention = {AttentionKind::local, AttentionKind::lsh};
  m.config.n_hashes = 2;
  m.config.chunk_len = 16;
  m.config.ff_chunks = 2;
  m.config.learning_rate = 3e-3;
  return m;
}

REFORGE_REGISTER_MODEL(byte_lm) { return reforge::byte_lm_preset(); }

REFORGE_REGISTER_MODEL(byte_lm_full) {
  reforge::ModelEntry m = make_model_byte_lm();
  m.name = "byte-lm-full";
  m.summary = "the full-attention, non-reversible Transformer baseline byte-level language model";
  m.config.attention = {reforge::AttentionKind::full};
  m.config.reversible = false;
  m.config.ff_chunks = 1;
  return m;
}

// The README's main job: big enough to learn the King James Bible's
// spelling and phrasing in a few minutes on two cores (about 0.18 s a step).
REFORGE_REGISTER_MODEL(byte_lm_kjv) {
  reforge::ModelEntry m = make_model_byte_lm();
  m.name = "byte-lm-kjv";
  m.summary = "4-layer byte-level Reformer sized to learn the default corpus in minutes on 2 cores";
  m.config.seq_len = 256;
  m.config.batch = 8;
  m.config.d_model = 128;
  m.config.n_heads = 4;
  m.config.d_head = 32;
  m.config.d_ff = 512;
  m.config.n_layers = 4;
  m.config.chunk_len = 32;
  m.config.learning_rate = 2e-3;
  return m;
}
