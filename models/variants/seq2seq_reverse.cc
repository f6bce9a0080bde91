// An encoder-decoder Reformer on reversing sequences: the encoder reads
// w (bidirectional LSH self-attention, reversible layers), the decoder
// writes w backwards (causal LSH self-attention, cross-attention from the
// decoder to the encoder's output, reversible layers), with teacher
// forcing. Reported: the loss per target symbol and the exact-match
// accuracy, the fraction of sequences whose every symbol the decoder's
// argmax gets right.
//
// The structure is this file's: an architecture (two Reformer stacks from
// models/blocks/, the second attending to the first) and a task.
#include <fmt/format.h>

#include "compiler/dsl/dsl.h"
#include "models/architecture.h"
#include "models/blocks/heads.h"
#include "models/blocks/reformer_stack.h"
#include "models/model_registry.h"
#include "models/reformer_layers.h"
#include "runtime/kernels/counter_rng.h"

namespace reforge {
namespace {

// Inputs: tokens [B, L] (the source), decoder_tokens [B, L] (the start
// symbol 0, then the target shifted right), targets [B, L], rng. The
// config's n_layers is each stack's depth.
ModelOutputs build_reformer_seq2seq(Graph& g, const ReformerConfig& c, const ReformerBuild& build) {
  c.validate();
  if (build.valid_length_input || build.decode_caches) throw Error("the encoder-decoder does not decode with caches");
  const int64_t rows = c.local_batch();
  Tensor tokens = g.input("tokens", {DType::i64, {rows, c.seq_len}});
  Tensor decoder_tokens = g.input("decoder_tokens", {DType::i64, {rows, c.seq_len}});
  Tensor targets = build.loss ? g.input("targets", {DType::i64, {rows, c.seq_len}}) : Tensor{};
  Tensor rng = g.input("rng", {DType::i64, {}});

  ReformerConfig encoder = c, decoder = c;
  encoder.causal = false;
  decoder.causal = true;
  Tensor memory;
  {
    auto scope = g.scope("encoder");
    Tensor h = reformer_stack(g, embed_tokens(g, tokens, c).x, encoder, {.rng = rng});
    memory = layer_norm(h, g.param("norm.gamma", {h.dim(-1)}, Init::ones()),
                        g.param("norm.beta", {h.dim(-1)}, Init::zeros()));
  }
  Embedding embedded;
  Tensor h;
  {
    auto scope = g.scope("decoder");
    embedded = embed_tokens(g, decoder_tokens, c);
    h = reformer_stack(g, embedded.x, decoder, {.rng = rng, .first_layer = c.n_layers, .memory = memory});
  }
  auto scope = g.scope("head");
  ModelOutputs out;
  out.logits = lm_head(g, h, embedded.table, c).named("logits");
  if (!build.loss) return out;
  Tensor ones = full_like(cast(targets, g.default_float()), 1.0);
  out.loss = weighted_cross_entropy(out.logits, targets, ones, c.replicas).loss.named("loss");
  // A sequence counts when all its symbols are right.
  Tensor hits = cast(equal(argmax(out.logits, -1), targets), g.default_float());
  Tensor exact =
      cast(equal(sum(hits, {1}), full_like(sum(hits, {1}), static_cast<double>(c.seq_len))), g.default_float());
  Tensor sequences = constant(g, static_cast<double>(c.batch), TensorType{g.default_float(), {}});
  out.accuracy = (c.replicas > 1 ? replica_sum(sum_all(exact)) : sum_all(exact)) / sequences;
  out.accuracy = out.accuracy.named("accuracy");
  return out;
}

// Random words of symbols 1..vocab-1, to be written backwards.
class ReverseTask : public GeneratedTask {
 public:
  ReverseTask(const ReformerConfig& c, uint64_t seed) : GeneratedTask(c, seed, kValidationKey) {
    if (c.vocab_size < 3) throw Error("reverse needs --vocab_size >= 3 (0 starts the decoder)");
  }

  std::string loss_unit() const override { return "nats per target symbol"; }
  std::string bits_unit() const override { return "target symbol"; }
  std::string describe() const override {
    return fmt::format("reverse words of {} symbols from {}", config().seq_len, config().vocab_size - 1);
  }

 private:
  static constexpr uint64_t kValidationKey = 0x7265766572;

  Batch draw(uint64_t key, int64_t step) const override {
    const ReformerConfig& c = config();
    const int64_t len = c.seq_len;
    Batch b;
    for (const char* name : {"tokens", "decoder_tokens", "targets"}) b[name] = HostTensor({DType::i64, {c.batch, len}});
    b["rng"] = batch_random_key(key, step);
    for (int64_t row = 0; row < c.batch; ++row) {
      for (int64_t t = 0; t < len; ++t) {
        uint64_t r = kernels::counter_bits(key, static_cast<uint64_t>(step), static_cast<uint64_t>(row * len + t));
        b["tokens"][row * len + t] = static_cast<double>(1 + r % static_cast<uint64_t>(c.vocab_size - 1));
      }
      for (int64_t t = 0; t < len; ++t) {
        const double target = b["tokens"][row * len + (len - 1 - t)];
        b["targets"][row * len + t] = target;
        if (t + 1 < len) b["decoder_tokens"][row * len + t + 1] = target;
      }
    }
    return b;
  }
};

}  // namespace
}  // namespace reforge

REFORGE_REGISTER_ARCHITECTURE(reformer_seq2seq) {
  return {"reformer-seq2seq",
          "an encoder-decoder Reformer: reversible LSH encoder, reversible causal LSH decoder with cross-attention",
          reforge::build_reformer_seq2seq};
}

REFORGE_REGISTER_MODEL(seq2seq_reverse) {
  reforge::ModelEntry m{"seq2seq-reverse",
                        "encoder-decoder Reformer writing random words backwards",
                        {},
                        reforge::generated_task<reforge::ReverseTask>("generated words")};
  m.config.architecture = "reformer-seq2seq";
  m.config.vocab_size = 12;
  m.config.seq_len = 32;
  m.config.batch = 8;
  m.config.d_model = 64;
  m.config.n_heads = 2;
  m.config.d_head = 32;
  m.config.d_ff = 128;
  m.config.n_layers = 2;
  m.config.attention = {reforge::AttentionKind::lsh};
  m.config.n_hashes = 2;
  m.config.chunk_len = 8;
  m.config.ff_chunks = 2;
  m.config.learning_rate = 3e-3;
  return m;
}
