#include "models/blocks/reformer_stack.h"

#include <fmt/format.h>

#include "compiler/dsl/dsl.h"
#include "models/attention.h"
#include "models/blocks/captures.h"
#include "models/blocks/cross_attention.h"
#include "models/blocks/feed_forward.h"
#include "models/decode_caches.h"
#include "models/reformer_layers.h"

namespace reforge {
namespace {

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
// and, for LSH, the bucket decisions made outside the block; in a
// decoder, the memory and the cross-attention's parameters.
struct AttentionCaptures {
  LayerNormParams norm;
  AttentionWeights weights;
  Tensor rng, buckets;  // buckets: LSH only
  Tensor memory;
  CrossAttentionParams cross;

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
    visit(memory);  // cross-attention only, with the parameters below
    cross.fields(visit);
  }
};

CrossAttentionConfig cross_attention_config(const ReformerConfig& c, Tensor memory) {
  return {.d_model = c.d_model, .memory_width = memory.dim(-1), .heads = c.n_heads, .d_head = c.d_head};
}

// The attention branch on x: LayerNorm, attention, (cross-attention to the
// memory), residual dropout.
Tensor attention_branch(const AttentionCaptures& a, AttentionKind kind, Tensor x, int64_t stream,
                        const ReformerConfig& c) {
  Tensor out = attend(normalize(x, a.norm), a.weights, a.buckets, {a.rng, stream}, kind, c);
  if (a.memory.valid()) out = out + cross_attention(x + out, a.memory, a.cross, cross_attention_config(c, a.memory));
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
  return dropout(chunked_feed_forward(x, f.params, feed_forward_config(c)), c.dropout, f.rng, stream + 5);
}

}  // namespace

Tensor reformer_stack(Graph& g, Tensor x, const ReformerConfig& c, const StackInputs& in, std::source_location loc) {
  auto call = called_from(loc);
  Tensor x1 = x;                         // the residual stream (reversible = false)
  Tensor streams = stack_streams(x, x);  // the reversible streams start as duplicates
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    const std::string name = fmt::format("{}{}", in.scope, layer);
    auto scope = g.scope(name);
    int64_t rng_stream = (in.first_layer + layer) * kRandomStreamsPerLayer;
    AttentionKind kind = c.attention_of_layer(layer);
    LayerNormParams norm;
    AttentionWeights weights;
    {
      auto attn_scope = g.scope("attn");
      norm = make_layer_norm(g, c.d_model);
      weights = make_attention_weights(g, c, kind);
    }
    AttentionCaptures at{norm, weights, in.rng, Tensor{}, in.memory, {}};
    if (in.memory.valid()) at.cross = make_cross_attention(g, cross_attention_config(c, in.memory));
    FeedForwardCaptures ff{make_feed_forward(g, feed_forward_config(c)), in.rng};

    // A prefill's outputs: the caches of this layer's attention, from its
    // normalised input.
    auto output_caches = [&](Tensor attention_input) {
      if (!in.decode_caches) return;
      output_prefill_caches(g, name + ".attn.", normalize(attention_input, norm), weights, kind, at.buckets,
                            in.valid_length, c);
    };
    // Bucket decisions are made here, outside the block, from the forward
    // input; the block only reads them, so any recomputation of the block
    // sees the same buckets.
    auto hash = [&](Tensor attention_input) {
      if (kind != AttentionKind::lsh) return;
      auto hash_scope = g.scope("attn.hash");
      at.buckets = lsh_buckets(normalize(attention_input, norm), weights.w_q, {in.rng, rng_stream}, c, in.valid_length);
    };
    if (c.reversible) {
      hash(stream(streams, 1));
      output_caches(stream(streams, 1));
      streams = reversible(
          streams, pack(at), pack(ff),
          [&](Graph&, const std::vector<Tensor>& a) {
            return attention_branch(unpack(at, a, 1), kind, a[0], rng_stream, c);
          },
          [&](Graph&, const std::vector<Tensor>& a) {
            return feed_forward_branch(unpack(ff, a, 1), a[0], rng_stream, c);
          });
    } else {
      hash(x1);
      output_caches(x1);
      x1 = x1 + attention_branch(at, kind, x1, rng_stream, c);
      x1 = x1 + feed_forward_branch(ff, x1, rng_stream, c);
    }
  }
  return c.reversible ? concat({stream(streams, 0), stream(streams, 1)}, 2) : x1;
}

}  // namespace reforge
