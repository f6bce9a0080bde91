// A Reformer variant defined outside Reforge's repository: a language
// model of two stacks — local attention first, to read each position's
// neighbourhood, then LSH attention over the whole sequence — each its own
// Reformer stack (models/blocks/reformer_stack.h), with the LM head and
// loss blocks on top. It trains on the duplication task (0 w 0 w), where
// only the second stack can reach the copied half.
#include "two_stage_lm.h"

#include <fmt/format.h>

#include "compiler/dsl/dsl.h"
#include "models/architecture.h"
#include "models/blocks/heads.h"
#include "models/blocks/reformer_stack.h"
#include "models/model_registry.h"
#include "models/reformer_layers.h"

namespace two_stage {
namespace {

using namespace reforge;

// Inputs: tokens, targets, loss_weights [B, L], rng. Each stack has the
// config's n_layers layers.
ModelOutputs build(Graph& g, const ReformerConfig& c, const ReformerBuild& build) {
  if (build.valid_length_input || build.decode_caches) throw Error("two-stage-lm does not decode with caches");
  Tensor tokens = g.input("tokens", {DType::i64, {c.local_batch(), c.seq_len}});
  Tensor targets = g.input("targets", {DType::i64, {c.local_batch(), c.seq_len}});
  Tensor weights = g.input("loss_weights", {g.default_float(), {c.local_batch(), c.seq_len}});
  Tensor rng = g.input("rng", {DType::i64, {}});

  ReformerConfig local = c, global = c;
  local.attention = {AttentionKind::local};
  local.reversible = false;  // a plain residual stack: its output is [B, L, d]
  global.attention = {AttentionKind::lsh};
  Embedding embedded = embed_tokens(g, tokens, c);
  Tensor near = reformer_stack(g, embedded.x, local, {.rng = rng, .scope = "local"});
  Tensor far = reformer_stack(g, near, global, {.rng = rng, .scope = "global", .first_layer = c.n_layers});
  auto scope = g.scope("head");
  ModelOutputs out;
  out.logits = lm_head(g, far, embedded.table, c).named("logits");
  LossAndAccuracy scored = weighted_cross_entropy(out.logits, targets, weights, c.replicas);
  out.loss = scored.loss.named("loss");
  out.accuracy = scored.accuracy.named("accuracy");
  return out;
}

}  // namespace
}  // namespace two_stage

REFORGE_REGISTER_ARCHITECTURE(two_stage) {
  return {"two-stage", "a local-attention stack, then an LSH stack", two_stage::build};
}

REFORGE_REGISTER_MODEL(two_stage_lm) {
  reforge::ModelEntry m{two_stage::kModel, "local then LSH stacks on the copy task", {}, reforge::duplication_task};
  m.config.architecture = "two-stage";
  m.config.vocab_size = 8;
  m.config.seq_len = 32;
  m.config.batch = 8;
  m.config.d_model = 32;
  m.config.n_heads = 2;
  m.config.d_head = 16;
  m.config.d_ff = 64;
  m.config.n_layers = 1;
  m.config.n_hashes = 2;
  m.config.chunk_len = 8;
  m.config.learning_rate = 5e-3;
  return m;
}
