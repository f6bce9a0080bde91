#include "models/reformer.h"

#include "compiler/dsl/dsl.h"
#include "models/blocks/heads.h"
#include "models/blocks/reformer_stack.h"
#include "models/reformer_layers.h"

namespace reforge {

Embedding embed_tokens(Graph& g, Tensor tokens, const EmbeddingConfig& c, std::source_location loc) {
  auto call = called_from(loc);
  auto scope = g.scope("embed");
  Tensor table = g.param("tokens", {c.vocab_size, c.d_model}, Init::normal(1.0));
  Tensor x = embedding(table, tokens);
  return {table, x + axial_table(make_axial_positions(g, c), c)};
}

ReformerModel build_reformer(Graph& g, const ReformerConfig& c, const ReformerBuild& build) {
  c.validate();
  ReformerModel m;
  // With several replicas, each takes its own rows of the global batch.
  const int64_t rows = c.local_batch();
  m.tokens = g.input("tokens", {DType::i64, {rows, c.seq_len}});
  if (build.loss) {
    m.targets = g.input("targets", {DType::i64, {rows, c.seq_len}});
    m.loss_weights = g.input("loss_weights", {g.default_float(), {rows, c.seq_len}});
  }
  m.rng = g.input("rng", {DType::i64, {}});
  if (build.valid_length_input) m.valid_length = g.input("valid_length", {DType::i64, {}});
  if (build.decode_caches && (!build.valid_length_input || rows != 1)) {
    throw Error("build_reformer: decode caches come from one sequence with a valid_length input");
  }

  Embedding embedded = embed_tokens(g, m.tokens, c);
  Tensor h = reformer_stack(g, embedded.x, c,
                            {.rng = m.rng, .valid_length = m.valid_length, .decode_caches = build.decode_caches});

  auto scope = g.scope("head");
  m.logits = lm_head(g, h, embedded.table, c);
  m.logits = m.logits.named("logits");
  if (!build.loss) return m;
  LossAndAccuracy scored = weighted_cross_entropy(m.logits, m.targets, m.loss_weights, c.replicas);
  m.loss = scored.loss.named("loss");
  m.accuracy = scored.accuracy.named("accuracy");
  return m;
}

}  // namespace reforge
