#include "models/reformer.h"

#include <fmt/format.h>

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "models/attention.h"
#include "models/decode_caches.h"
#include "models/reformer_layers.h"

namespace reforge {
namespace {

// Region captures by name. A captures struct lists its tensors once, in
// operand order, through `fields`; pack() (building a region's operands)
// and unpack() (reading them inside the region) both walk that one list,
// so the two cannot drift apart. Absent optional tensors are skipped on
// both sides.
template <typename Captures>
std::vector<Tensor> pack(Captures captures) {
  std::vector<Tensor> operands;
  captures.fields([&](Tensor& t) {
    if (t.valid()) operands.push_back(t);
  });
  return operands;
}

// The region's view of `outer`: the same fields, bound to `args` from
// `first` on.
template <typename Captures>
Captures unpack(Captures outer, const std::vector<Tensor>& args, size_t first) {
  size_t next = first;
  outer.fields([&](Tensor& t) {
    if (t.valid()) t = args.at(next++);
  });
  return outer;
}

// The feed-forward over c.ff_chunks sequence chunks: the d_ff-wide
// intermediate exists for one chunk at a time. A chunk count that does not
// divide L pads the sequence (position-wise, so padding changes nothing)
// and slices the result back.
Tensor chunked_feed_forward(Tensor x, const FeedForwardParams& p, const ReformerConfig& c) {
  int64_t len = x.dim(1), chunks = c.ff_chunks;
  int64_t padded = (len + chunks - 1) / chunks * chunks;
  Tensor xp = padded == len ? x : pad(x, 1, 0, padded - len, 0.0);
  Tensor y = chunked_map({xp}, pack(p), 1, chunks, [&c, &p](Graph&, const std::vector<Tensor>& a) {
    return feed_forward_body(a[0], unpack(p, a, 1), c);
  });
  return padded == len ? y : slice(y, 1, 0, len);
}

// One attention sublayer applied to already-normalised input.
struct AttentionSublayer {
  AttentionKind kind;
  AttentionWeights weights;
  LayerNormParams norm;
};

Tensor attend(Tensor normed, const AttentionWeights& w, Tensor buckets, const AttentionRandomness& rng,
              AttentionKind kind, const ReformerConfig& c) {
  switch (kind) {
    case AttentionKind::lsh:
      return lsh_attention(normed, w, buckets, rng, c);
    case AttentionKind::local:
      return local_attention(normed, w, rng, c);
    case AttentionKind::full:
      return full_attention(normed, w, rng, c);
  }
  throw Error("unknown attention kind");
}

// What the attention branch (F) captures: its parameters, the random key
// and, for LSH, the bucket decisions made outside the block.
struct AttentionCaptures {
  LayerNormParams norm;
  AttentionWeights weights;
  Tensor rng, buckets;  // buckets: LSH only

  template <typename Visit>
  void fields(Visit visit) {
    visit(norm.gamma);
    visit(norm.beta);
    visit(weights.w_q);
    visit(weights.w_v);
    visit(weights.w_o);
    visit(rng);
    visit(weights.w_k);  // local and full attention only
    visit(buckets);
  }
};

// The attention branch on x: LayerNorm, attention, residual dropout.
Tensor attention_branch(const AttentionCaptures& a, AttentionKind kind, Tensor x, int64_t stream,
                        const ReformerConfig& c) {
  Tensor out = attend(normalize(x, a.norm), a.weights, a.buckets, {a.rng, stream}, kind, c);
  return dropout(out, c.dropout, a.rng, stream + 4);
}

// What the feed-forward branch (G) captures.
struct FeedForwardCaptures {
  FeedForwardParams params;
  Tensor rng;

  template <typename Visit>
  void fields(Visit visit) {
    params.fields(visit);
    visit(rng);
  }
};

// The feed-forward branch on x: chunked feed-forward, residual dropout.
Tensor feed_forward_branch(const FeedForwardCaptures& f, Tensor x, int64_t stream, const ReformerConfig& c) {
  return dropout(chunked_feed_forward(x, f.params, c), c.dropout, f.rng, stream + 5);
}

}  // namespace

Embedding embed_tokens(Graph& g, Tensor tokens, const ReformerConfig& c) {
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
  Tensor x = embedded.x;
  Tensor x1 = x;                         // the residual stream (reversible = false)
  Tensor streams = stack_streams(x, x);  // the reversible streams start as duplicates
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    auto scope = g.scope(fmt::format("layer{}", layer));
    int64_t rng_stream = layer * kRandomStreamsPerLayer;
    AttentionSublayer attn;
    attn.kind = c.attention_of_layer(layer);
    {
      auto attn_scope = g.scope("attn");
      attn.norm = make_layer_norm(g, c.d_model);
      attn.weights = make_attention_weights(g, c, attn.kind);
    }
    FeedForwardCaptures ff{make_feed_forward(g, c), m.rng};
    AttentionCaptures at{attn.norm, attn.weights, m.rng, Tensor{}};

    // A prefill's outputs: the caches of this layer's attention, from its
    // normalised input.
    auto output_caches = [&](Tensor attention_input) {
      if (!build.decode_caches) return;
      output_prefill_caches(g, fmt::format("layer{}.attn.", layer), normalize(attention_input, attn.norm), attn.weights,
                            attn.kind, at.buckets, m.valid_length, c);
    };
    if (c.reversible) {
      // Bucket decisions are made here, outside the block, from the
      // forward input; the block only reads them, so any recomputation of
      // the block sees the same buckets.
      if (attn.kind == AttentionKind::lsh) {
        auto hash_scope = g.scope("attn.hash");
        at.buckets = lsh_buckets(normalize(stream(streams, 1), attn.norm), attn.weights.w_q, {m.rng, rng_stream}, c,
                                 m.valid_length);
      }
      output_caches(stream(streams, 1));
      streams = reversible(
          streams, pack(at), pack(ff),
          [&](Graph&, const std::vector<Tensor>& a) {
            return attention_branch(unpack(at, a, 1), attn.kind, a[0], rng_stream, c);
          },
          [&](Graph&, const std::vector<Tensor>& a) {
            return feed_forward_branch(unpack(ff, a, 1), a[0], rng_stream, c);
          });
    } else {
      if (attn.kind == AttentionKind::lsh) {
        auto hash_scope = g.scope("attn.hash");
        at.buckets = lsh_buckets(normalize(x1, attn.norm), attn.weights.w_q, {m.rng, rng_stream}, c, m.valid_length);
      }
      output_caches(x1);
      x1 = x1 + attention_branch(at, attn.kind, x1, rng_stream, c);
      x1 = x1 + feed_forward_branch(ff, x1, rng_stream, c);
    }
  }

  auto scope = g.scope("head");
  Tensor h = c.reversible ? concat({stream(streams, 0), stream(streams, 1)}, 2) : x1;
  m.logits = lm_head(g, h, embedded.table, c);
  m.logits = m.logits.named("logits");
  if (!build.loss) return m;
  // The loss is the weighted mean over the whole batch. With several
  // replicas, the weight sum and the replicas' shares of the loss are
  // summed over them (replica_sum); one replica is written without it.
  auto over_replicas = [&](Tensor x) { return c.replicas > 1 ? replica_sum(x) : x; };
  Tensor weight_sum = over_replicas(sum_all(m.loss_weights));
  m.loss = over_replicas(sum_all(cross_entropy(m.logits, m.targets) * m.loss_weights) / weight_sum).named("loss");
  Tensor hits = cast(equal(argmax(m.logits, -1), m.targets), g.default_float());
  m.accuracy = over_replicas(sum_all(hits * m.loss_weights) / weight_sum).named("accuracy");
  return m;
}

}  // namespace reforge
