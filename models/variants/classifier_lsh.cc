// A bidirectional LSH Reformer encoder with a pooled classification head,
// on a long-range task: do the keys scattered over the second eighth of a
// 4K-token sequence (all 1s, or all 2s) pair with those over its seventh
// eighth (all 3s, or all 4s) — 1 with 3, 2 with 4? The two groups are at
// least L/2 apart along the sequence and L/4 across local attention's
// wrap-around, out of reach of any local window; and the head pools by a
// mean, so the logits are a sum of what each position knows: without
// attention between the groups they add a term for a and one for b, and
// no such sum is the XNOR the label is. LSH attention can bring the groups
// together once the model hashes 1 with 3 and 2 with 4.
//
// The structure is this file's: an architecture (embedding, the Reformer
// stack, mean pooling, softmax classes) built from the blocks of
// models/blocks/, and a task (its data, loss and accuracy).
#include <fmt/format.h>

#include "compiler/dsl/dsl.h"
#include "models/architecture.h"
#include "models/blocks/heads.h"
#include "models/blocks/reformer_stack.h"
#include "models/model_registry.h"
#include "runtime/kernels/counter_rng.h"

namespace reforge {
namespace {

// Inputs: tokens [B, L] i64, targets [B] i64 (the class), rng i64 scalar.
ModelOutputs build_lsh_classifier(Graph& g, const ReformerConfig& c, const ReformerBuild& build) {
  c.validate();
  if (c.n_classes < 2) throw Error(fmt::format("a classifier needs --n_classes >= 2, got {}", c.n_classes));
  if (build.valid_length_input || build.decode_caches) throw Error("a classifier does not decode");
  const int64_t rows = c.local_batch();
  Tensor tokens = g.input("tokens", {DType::i64, {rows, c.seq_len}});
  Tensor targets = build.loss ? g.input("targets", {DType::i64, {rows}}) : Tensor{};
  Tensor rng = g.input("rng", {DType::i64, {}});

  Tensor h = reformer_stack(g, embed_tokens(g, tokens, c).x, c, {.rng = rng});
  auto scope = g.scope("head");
  ModelOutputs out;
  out.logits = pooled_classifier(g, h, c.n_classes).named("logits");
  if (!build.loss) return out;
  LossAndAccuracy scored =
      weighted_cross_entropy(out.logits, targets, full_like(cast(targets, g.default_float()), 1.0), c.replicas);
  out.loss = scored.loss.named("loss");
  out.accuracy = scored.accuracy.named("accuracy");
  return out;
}

// Sequences of filler symbols 5..vocab-1 in which about one position in
// kEvery of the second eighth holds key a (1 or 2) and one in kEvery of
// the seventh holds key b (3 or 4); the class is 1 when b = a + 2 (half
// of the sequences), else 0.
class KeysMatchTask : public GeneratedTask {
 public:
  KeysMatchTask(const ReformerConfig& c, uint64_t seed) : GeneratedTask(c, seed, kValidationKey) {
    if (c.vocab_size < 6) throw Error("keys-match needs --vocab_size >= 6 (keys 1 to 4, filler from 5)");
    if (c.seq_len < 64) throw Error(fmt::format("keys-match needs --seq_len >= 64, got {}", c.seq_len));
    if (c.n_classes != 2) throw Error(fmt::format("keys-match has 2 classes, not --n_classes={}", c.n_classes));
  }

  std::string loss_unit() const override { return "nats per sequence"; }
  std::string bits_unit() const override { return "sequence"; }
  std::optional<double> baseline_bits() const override { return 1.0; }  // a fair coin
  std::string baseline_name() const override { return "chance"; }
  std::string describe() const override {
    return fmt::format("do two groups of keys at least {} tokens apart match, in sequences of {}", config().seq_len / 2,
                       config().seq_len);
  }

 private:
  static constexpr uint64_t kValidationKey = 0x6b65797321;
  static constexpr uint64_t kEvery = 8;  // about one position in kEvery holds a key or a decoy

  Batch draw(uint64_t key, int64_t step) const override {
    const ReformerConfig& c = config();
    const int64_t len = c.seq_len;
    Batch b;
    b["tokens"] = HostTensor({DType::i64, {c.batch, len}});
    b["targets"] = HostTensor({DType::i64, {c.batch}});
    b["rng"] = batch_random_key(key, step);
    auto bits = [&](int64_t row, int64_t i) {
      return kernels::counter_bits(key, static_cast<uint64_t>(step), static_cast<uint64_t>(row * (len + 2) + i));
    };
    const uint64_t filler = static_cast<uint64_t>(c.vocab_size - 5);
    for (int64_t row = 0; row < c.batch; ++row) {
      const int64_t a = 1 + static_cast<int64_t>(bits(row, len) % 2);
      const bool match = bits(row, len + 1) % 2 == 0;
      const int64_t b_key = match ? a + 2 : 5 - a;  // 1 pairs with 3, 2 with 4
      for (int64_t t = 0; t < len; ++t) {
        const uint64_t r = bits(row, t);
        const int64_t eighth = t * 8 / len;
        int64_t symbol = 5 + static_cast<int64_t>(r % filler);
        if ((eighth == 1 || eighth == 6) && r / filler % kEvery == 0) symbol = eighth == 1 ? a : b_key;
        b["tokens"][row * len + t] = static_cast<double>(symbol);
      }
      b["targets"][row] = match ? 1.0 : 0.0;
    }
    return b;
  }
};

}  // namespace
}  // namespace reforge

REFORGE_REGISTER_ARCHITECTURE(lsh_classifier) {
  return {"lsh-classifier", "a bidirectional Reformer encoder with a mean-pooled classification head",
          reforge::build_lsh_classifier};
}

REFORGE_REGISTER_MODEL(classifier_lsh) {
  reforge::ModelEntry m{"classifier-lsh",
                        "bidirectional LSH Reformer classifying whether two far-apart key groups pair",
                        {},
                        reforge::generated_task<reforge::KeysMatchTask>("generated key groups")};
  m.config.architecture = "lsh-classifier";
  m.config.vocab_size = 6;  // keys 1 to 4, filler 5
  m.config.seq_len = 4096;
  m.config.batch = 4;
  m.config.d_model = 64;
  m.config.n_heads = 2;
  m.config.d_head = 32;
  m.config.d_ff = 128;
  m.config.n_layers = 2;
  m.config.attention = {reforge::AttentionKind::lsh};
  m.config.causal = false;
  m.config.n_hashes = 2;
  m.config.chunk_len = 64;
  m.config.ff_chunks = 4;
  m.config.n_classes = 2;
  m.config.learning_rate = 2e-3;
  return m;
}
