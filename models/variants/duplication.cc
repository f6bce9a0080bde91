// The paper's duplication task (§5) at a size the interpreter trains in
// seconds: a one-layer LSH Reformer copying 0 w 0 w sequences.
#include "models/model_registry.h"

REFORGE_REGISTER_MODEL(duplication) {
  reforge::ModelEntry m{"duplication", "1-layer LSH Reformer on the 0w0w copy task", {}, reforge::duplication_task};
  m.config.vocab_size = 8;
  m.config.seq_len = 16;
  m.config.batch = 8;
  m.config.d_model = 32;
  m.config.n_heads = 2;
  m.config.d_head = 16;
  m.config.d_ff = 64;
  m.config.n_layers = 1;
  m.config.n_hashes = 2;
  m.config.chunk_len = 4;
  m.config.learning_rate = 5e-3;
  return m;
}

// The same task with the baseline: full attention, standard residual layers.
REFORGE_REGISTER_MODEL(duplication_full) {
  reforge::ModelEntry m = make_model_duplication();
  m.name = "duplication-full";
  m.summary = "the full-attention, non-reversible Transformer baseline on the copy task";
  m.config.attention = {reforge::AttentionKind::full};
  m.config.reversible = false;
  return m;
}
