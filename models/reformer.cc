#include "models/reformer.h"

#include <fmt/format.h>

#include <cmath>

#include "compiler/dsl/dsl.h"
#include "models/attention.h"

namespace reforge {
namespace {

// Streams of the counter-based generator, per layer: attention uses
// base .. base+3, residual dropouts base+4 and base+5.
constexpr int64_t kStreamsPerLayer = 8;

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

struct LayerNormParams {
  Tensor gamma, beta;
};

LayerNormParams make_layer_norm(Graph& g, int64_t width) {
  return {g.param("norm.gamma", {width}, Init::ones()), g.param("norm.beta", {width}, Init::zeros())};
}

Tensor normalize(Tensor x, const LayerNormParams& p) { return layer_norm(x, p.gamma, p.beta); }

AttentionWeights make_attention_weights(Graph& g, const ReformerConfig& c, AttentionKind kind) {
  double scale = 1.0 / std::sqrt(static_cast<double>(c.d_model));
  AttentionWeights w;
  w.w_q = g.param("w_q", {c.d_model, c.n_heads * c.d_head}, Init::normal(scale));
  if (kind != AttentionKind::lsh) w.w_k = g.param("w_k", {c.d_model, c.n_heads * c.d_head}, Init::normal(scale));
  w.w_v = g.param("w_v", {c.d_model, c.n_heads * c.d_head}, Init::normal(scale));
  w.w_o = g.param("w_o", {c.n_heads * c.d_head, c.d_model},
                  Init::normal(1.0 / std::sqrt(static_cast<double>(c.n_heads * c.d_head))));
  return w;
}

struct FeedForwardParams {
  LayerNormParams norm;
  Tensor w1, b1, w2, b2;

  template <typename Visit>
  void fields(Visit visit) {
    visit(norm.gamma);
    visit(norm.beta);
    visit(w1);
    visit(b1);
    visit(w2);
    visit(b2);
  }
};

FeedForwardParams make_feed_forward(Graph& g, const ReformerConfig& c) {
  auto scope = g.scope("ff");
  FeedForwardParams p;
  p.norm = make_layer_norm(g, c.d_model);
  p.w1 = g.param("w1", {c.d_model, c.d_ff}, Init::normal(1.0 / std::sqrt(static_cast<double>(c.d_model))));
  p.b1 = g.param("b1", {c.d_ff}, Init::zeros());
  p.w2 = g.param("w2", {c.d_ff, c.d_model}, Init::normal(1.0 / std::sqrt(static_cast<double>(c.d_ff))));
  p.b2 = g.param("b2", {c.d_model}, Init::zeros());
  return p;
}

// LayerNorm -> dense -> activation -> dense, position by position.
Tensor feed_forward_body(Tensor x, const FeedForwardParams& p, const ReformerConfig& c) {
  Tensor h = linear(normalize(x, p.norm), p.w1) + p.b1;
  h = c.ff_activation == "relu" ? relu(h) : gelu(h);
  return linear(h, p.w2) + p.b2;
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

Tensor axial_positions(Graph& g, const ReformerConfig& c) {
  auto scope = g.scope("axial");
  int64_t rows = c.axial_rows_resolved(), cols = c.axial_cols_resolved();
  int64_t w1 = c.axial_row_width_resolved(), w2 = c.d_model - w1;
  Tensor e1 = g.param("rows", {rows, 1, w1}, Init::normal(1.0));
  Tensor e2 = g.param("cols", {1, cols, w2}, Init::normal(1.0));
  Tensor grid = concat({broadcast_to(e1, {rows, cols, w1}), broadcast_to(e2, {rows, cols, w2})}, 2);
  Tensor flat = reshape(grid, {rows * cols, c.d_model});
  return rows * cols == c.seq_len ? flat : slice(flat, 0, 0, c.seq_len);
}

}  // namespace

Embedding embed_tokens(Graph& g, Tensor tokens, const ReformerConfig& c) {
  auto scope = g.scope("embed");
  Tensor table = g.param("tokens", {c.vocab_size, c.d_model}, Init::normal(1.0));
  Tensor x = embedding(table, tokens);
  return {table, x + axial_positions(g, c)};
}

ReformerModel build_reformer(Graph& g, const ReformerConfig& c) {
  c.validate();
  ReformerModel m;
  // With several replicas, each takes its own rows of the global batch.
  const int64_t rows = c.local_batch();
  m.tokens = g.input("tokens", {DType::i64, {rows, c.seq_len}});
  m.targets = g.input("targets", {DType::i64, {rows, c.seq_len}});
  m.loss_weights = g.input("loss_weights", {g.default_float(), {rows, c.seq_len}});
  m.rng = g.input("rng", {DType::i64, {}});

  Embedding embedded = embed_tokens(g, m.tokens, c);
  Tensor x = embedded.x;
  Tensor x1 = x;                         // the residual stream (reversible = false)
  Tensor streams = stack_streams(x, x);  // the reversible streams start as duplicates
  for (int64_t layer = 0; layer < c.n_layers; ++layer) {
    auto scope = g.scope(fmt::format("layer{}", layer));
    int64_t rng_stream = layer * kStreamsPerLayer;
    AttentionSublayer attn;
    attn.kind = c.attention_of_layer(layer);
    {
      auto attn_scope = g.scope("attn");
      attn.norm = make_layer_norm(g, c.d_model);
      attn.weights = make_attention_weights(g, c, attn.kind);
    }
    FeedForwardCaptures ff{make_feed_forward(g, c), m.rng};
    AttentionCaptures at{attn.norm, attn.weights, m.rng, Tensor{}};

    if (c.reversible) {
      // Bucket decisions are made here, outside the block, from the
      // forward input; the block only reads them, so any recomputation of
      // the block sees the same buckets.
      if (attn.kind == AttentionKind::lsh) {
        auto hash_scope = g.scope("attn.hash");
        at.buckets = lsh_buckets(normalize(stream(streams, 1), attn.norm), attn.weights.w_q, {m.rng, rng_stream}, c);
      }
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
        at.buckets = lsh_buckets(normalize(x1, attn.norm), attn.weights.w_q, {m.rng, rng_stream}, c);
      }
      x1 = x1 + attention_branch(at, attn.kind, x1, rng_stream, c);
      x1 = x1 + feed_forward_branch(ff, x1, rng_stream, c);
    }
  }

  auto scope = g.scope("head");
  Tensor h = c.reversible ? concat({stream(streams, 0), stream(streams, 1)}, 2) : x1;
  int64_t width = h.dim(2);
  h = layer_norm(h, g.param("norm.gamma", {width}, Init::ones()), g.param("norm.beta", {width}, Init::zeros()));
  if (c.tied_embedding) {
    // Project to d_model, then score against the (shared) token embedding.
    Tensor table = embedded.table;
    if (width != c.d_model) {
      h = linear(h, g.param("to_model", {width, c.d_model}, Init::normal(1.0 / std::sqrt(double(width)))));
    }
    m.logits = linear(h, swap_last_axes(table));
  } else {
    m.logits = linear(h, g.param("w", {width, c.vocab_size}, Init::normal(1.0 / std::sqrt(double(width))))) +
               g.param("b", {c.vocab_size}, Init::zeros());
  }
  m.logits = m.logits.named("logits");
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
