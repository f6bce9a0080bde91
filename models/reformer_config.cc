#include "models/reformer_config.h"

#include <fmt/format.h>

#include <cmath>

#include "base/error.h"
#include "models/attention.h"
#include "models/reformer_layers.h"

namespace reforge {
namespace {

int64_t parse_int(const std::string& name, const std::string& v) {
  try {
    size_t used = 0;
    long long x = std::stoll(v, &used);
    if (used == v.size()) return x;
  } catch (const std::out_of_range&) {
    throw Error(fmt::format("--{}={} does not fit in a 64-bit integer", name, v));
  } catch (const std::logic_error&) {
  }
  throw Error(fmt::format("--{} must be an integer, got '{}'", name, v));
}

double parse_double(const std::string& name, const std::string& v) {
  try {
    size_t used = 0;
    double x = std::stod(v, &used);
    if (used == v.size() && std::isfinite(x)) return x;
    if (used == v.size()) throw Error(fmt::format("--{} must be a finite number, got '{}'", name, v));
  } catch (const std::out_of_range&) {
    throw Error(fmt::format("--{}={} is out of the range of a double", name, v));
  } catch (const std::logic_error&) {
  }
  throw Error(fmt::format("--{} must be a number, got '{}'", name, v));
}

bool parse_bool(const std::string& name, const std::string& v) {
  if (v == "true" || v == "1" || v == "on") return true;
  if (v == "false" || v == "0" || v == "off") return false;
  throw Error(fmt::format("--{} must be true or false, got '{}'", name, v));
}

AttentionKind parse_kind(const std::string& v) {
  if (v == "lsh") return AttentionKind::lsh;
  if (v == "local") return AttentionKind::local;
  if (v == "full") return AttentionKind::full;
  throw Error(fmt::format("--attention: unknown kind '{}' (use lsh, local or full, comma-separated per layer)", v));
}

std::vector<AttentionKind> parse_kinds(const std::string& v) {
  std::vector<AttentionKind> kinds;
  size_t start = 0;
  while (start <= v.size()) {
    size_t comma = v.find(',', start);
    if (comma == std::string::npos) comma = v.size();
    kinds.push_back(parse_kind(v.substr(start, comma - start)));
    start = comma + 1;
  }
  return kinds;
}

#define INT_FIELD(field, help)                                                                                         \
  ConfigField {                                                                                                        \
#field, help,                                                                                                      \
        [](const ReformerConfig& c) { return std::to_string(c.field); }, [](ReformerConfig & c,                        \
                                                                            const std::string&                         \
                                                                                v) { c.field = parse_int(#field, v); } \
  }
#define DOUBLE_FIELD(field, help)                                                                                      \
  ConfigField {                                                                                                        \
#field, help,                                                                                                      \
        [](const ReformerConfig&                                                                                       \
               c) { return fmt::format("{}", c.field); },                                                              \
                                                       [](ReformerConfig & c,                                          \
                                                          const std::string& v) { c.field = parse_double(#field, v); } \
  }
#define BOOL_FIELD(field, help)                                                                                       \
  ConfigField {                                                                                                       \
#field, help,                                                                                                     \
        [](const ReformerConfig&                                                                                      \
               c) { return std::string(c.field ? "true" : "false"); }, [](ReformerConfig & c,                         \
                                                                          const std::string&                          \
                                                                              v) { c.field = parse_bool(#field, v); } \
  }

}  // namespace

const char* attention_kind_name(AttentionKind kind) {
  switch (kind) {
    case AttentionKind::lsh:
      return "lsh";
    case AttentionKind::local:
      return "local";
    case AttentionKind::full:
      return "full";
  }
  return "?";
}

// The attention layers own these (models/attention.h).
int64_t ReformerConfig::padded_len() const { return AttentionConfig(*this).padded_len(); }
int64_t ReformerConfig::buckets() const { return AttentionConfig(*this).buckets(); }
std::vector<int64_t> ReformerConfig::bucket_factors() const { return AttentionConfig(*this).bucket_factors(); }

AttentionKind ReformerConfig::attention_of_layer(int64_t layer) const {
  return attention[static_cast<size_t>(layer) % attention.size()];
}

// The embedding owns these (models/reformer_layers.h).
int64_t ReformerConfig::axial_cols_resolved() const { return EmbeddingConfig(*this).axial_cols_resolved(); }
int64_t ReformerConfig::axial_rows_resolved() const { return EmbeddingConfig(*this).axial_rows_resolved(); }
int64_t ReformerConfig::axial_row_width_resolved() const { return EmbeddingConfig(*this).axial_row_width_resolved(); }

void ReformerConfig::validate() const {
  // Each size has a range a machine can run; products of sizes are then
  // checked below, so no size computation downstream can wrap.
  auto in_range = [](const char* name, int64_t v, int64_t low, int64_t high) {
    if (v < low || v > high) throw Error(fmt::format("--{} must be between {} and {}, got {}", name, low, high, v));
  };
  constexpr int64_t kMaxTokens = int64_t{1} << 24;  // 16M tokens per sequence
  in_range("vocab_size", vocab_size, 1, int64_t{1} << 24);
  in_range("seq_len", seq_len, 1, kMaxTokens);
  in_range("batch", batch, 1, int64_t{1} << 20);
  if (replicas < 1) throw Error(fmt::format("a model runs on at least one replica, not {}", replicas));
  if (batch % replicas != 0) {
    throw Error(fmt::format(
        "--batch={} is the global batch, and {} ranks must share it evenly: choose a multiple of {}", batch,
        replicas, replicas));
  }
  in_range("d_model", d_model, 1, int64_t{1} << 16);
  in_range("n_heads", n_heads, 1, 4096);
  in_range("d_head", d_head, 1, int64_t{1} << 16);
  in_range("d_ff", d_ff, 1, int64_t{1} << 20);
  in_range("n_layers", n_layers, 1, 10000);
  in_range("n_hashes", n_hashes, 1, 256);
  in_range("chunk_len", chunk_len, 1, seq_len);
  in_range("ff_chunks", ff_chunks, 1, seq_len);
  in_range("n_buckets", n_buckets, 0, kMaxTokens);
  in_range("n_classes", n_classes, 0, int64_t{1} << 24);
  in_range("axial_rows", axial_rows, 0, kMaxTokens);
  in_range("axial_cols", axial_cols, 0, kMaxTokens);
  in_range("axial_row_width", axial_row_width, 0, d_model);
  if (attention.empty()) throw Error("--attention needs at least one kind");
  if (n_buckets != 0 && (n_buckets < 2 || n_buckets % 2 != 0)) {
    throw Error(fmt::format("--n_buckets must be even and at least 2 (or 0 for 2*L/chunk_len), got {}", n_buckets));
  }
  if (n_buckets > padded_len()) {  // every bucket but a few empty, and a workspace sized by buckets
    throw Error(fmt::format("--n_buckets={} is more buckets than the {} positions of a sequence (--seq_len={})",
                            n_buckets, padded_len(), seq_len));
  }
  for (int64_t f : bucket_factors()) {
    if (f % 2 != 0)
      throw Error(fmt::format("bucket factor {} of {} buckets is odd; use an even --n_buckets", f, buckets()));
  }
  if (ff_activation != "gelu" && ff_activation != "relu") {
    throw Error("--ff_activation must be gelu or relu, got '" + ff_activation + "'");
  }
  if (d_model < 2)
    throw Error(fmt::format("--d_model must be at least 2 (the axial positions split it), got {}", d_model));
  int64_t w1 = axial_row_width_resolved();
  if (w1 < 1 || w1 >= d_model) {
    throw Error(fmt::format("--axial_row_width must be in [1, d_model), got {} with d_model {}", w1, d_model));
  }
  if (axial_rows_resolved() * axial_cols_resolved() < seq_len) {
    throw Error(fmt::format("axial shape {}x{} covers {} positions, fewer than --seq_len={}", axial_rows_resolved(),
                            axial_cols_resolved(), axial_rows_resolved() * axial_cols_resolved(), seq_len));
  }
  for (auto [name, rate] : {std::pair{"dropout", dropout}, std::pair{"attention_dropout", attention_dropout}}) {
    if (!(rate >= 0 && rate < 1)) throw Error(fmt::format("--{} must be in [0, 1), got {}", name, rate));
  }
  if (!(learning_rate > 0 && learning_rate <= 10)) {
    throw Error(fmt::format("--learning_rate must be in (0, 10], got {}", learning_rate));
  }
  if (!(weight_decay >= 0 && weight_decay <= 1)) {
    throw Error(fmt::format("--weight_decay must be in [0, 1], got {}", weight_decay));
  }
  // The largest tensors: logits [B, L, vocab], the feed-forward's hidden
  // [B, L, d_ff], attention's per-head values [B, heads, hashes, L, d_head],
  // and the embedding [vocab, d_model]. Products are checked, not trusted.
  constexpr int64_t kMaxElements = int64_t{1} << 40;
  auto product = [&](std::initializer_list<std::pair<const char*, int64_t>> factors) {
    int64_t p = 1;
    std::string names;
    for (auto [name, v] : factors) names += fmt::format("{}--{}={}", names.empty() ? "" : " x ", name, v);
    for (auto [name, v] : factors) {
      if (v > 0 && p > kMaxElements / v) {
        throw Error(fmt::format("{} is more than 2^40 elements in one tensor; no machine holds that", names));
      }
      p *= v;
    }
  };
  int64_t padded = padded_len();
  product({{"batch", batch}, {"seq_len", padded}, {"vocab_size", vocab_size}});
  product({{"batch", batch}, {"seq_len", padded}, {"d_ff", d_ff}});
  product({{"batch", batch}, {"seq_len", padded}, {"d_model", d_model}, {"n_layers", n_layers}});
  product({{"batch", batch}, {"n_heads", n_heads}, {"n_hashes", n_hashes}, {"seq_len", padded}, {"d_head", d_head}});
  product({{"vocab_size", vocab_size}, {"d_model", d_model}});
  product({{"n_layers", n_layers}, {"d_model", d_model}, {"d_ff", d_ff}});
}

const std::vector<ConfigField>& config_fields() {
  static const std::vector<ConfigField> fields = {
      ConfigField{"architecture", "the registered builder that gives the model its structure (reforge models)",
                  [](const ReformerConfig& c) { return c.architecture; },
                  [](ReformerConfig& c, const std::string& v) { c.architecture = v; }},
      INT_FIELD(vocab_size, "number of token ids"),
      INT_FIELD(seq_len, "tokens per sequence (padded internally to a multiple of chunk_len)"),
      INT_FIELD(batch, "sequences per step"),
      INT_FIELD(d_model, "model width"),
      INT_FIELD(n_heads, "attention heads"),
      INT_FIELD(d_head, "query/key and value width per head"),
      INT_FIELD(d_ff, "feed-forward width"),
      INT_FIELD(n_layers, "number of layers"),
      ConfigField{"attention", "per-layer attention kinds, repeated: lsh | local | full, e.g. local,lsh",
                  [](const ReformerConfig& c) {
                    std::vector<std::string> names;
                    for (auto k : c.attention) names.push_back(attention_kind_name(k));
                    return fmt::format("{}", fmt::join(names, ","));
                  },
                  [](ReformerConfig& c, const std::string& v) { c.attention = parse_kinds(v); }},
      INT_FIELD(n_hashes, "LSH hash rounds"),
      INT_FIELD(chunk_len, "LSH/local attention chunk length"),
      INT_FIELD(n_buckets, "LSH buckets per round (even, at most the positions; 0 = 2*L/chunk_len)"),
      BOOL_FIELD(causal, "mask attention to later positions"),
      ConfigField{"attention_mode", "trax (default) | paper (same-bucket only, duplicate-round correction)",
                  [](const ReformerConfig& c) {
                    return std::string(c.attention_mode == AttentionMode::trax ? "trax" : "paper");
                  },
                  [](ReformerConfig& c, const std::string& v) {
                    if (v == "trax")
                      c.attention_mode = AttentionMode::trax;
                    else if (v == "paper")
                      c.attention_mode = AttentionMode::paper;
                    else
                      throw Error("--attention_mode must be trax or paper, got '" + v + "'");
                  }},
      BOOL_FIELD(reversible, "reversible two-stream layers (false: standard residual)"),
      INT_FIELD(ff_chunks, "feed-forward sequence chunks"),
      ConfigField{"ff_activation", "gelu | relu", [](const ReformerConfig& c) { return c.ff_activation; },
                  [](ReformerConfig& c, const std::string& v) { c.ff_activation = v; }},
      BOOL_FIELD(ff_gated, "gated feed-forward (GEGLU with gelu, ReGLU with relu)"),
      INT_FIELD(axial_rows, "axial position grid rows (0 = choose)"),
      INT_FIELD(axial_cols, "axial position grid columns (0 = choose)"),
      INT_FIELD(axial_row_width, "width of the row embedding (0 = d_model/2)"),
      DOUBLE_FIELD(dropout, "residual-branch dropout rate"),
      DOUBLE_FIELD(attention_dropout, "attention-probability dropout rate"),
      BOOL_FIELD(tied_embedding, "share the input embedding with the output layer"),
      INT_FIELD(n_classes, "classes of a classification head (0 for a language model)"),
      DOUBLE_FIELD(learning_rate, "Adam learning rate"),
      DOUBLE_FIELD(weight_decay, "decoupled weight decay"),
  };
  return fields;
}

void set_config_field(ReformerConfig& config, const std::string& name, const std::string& value) {
  for (const ConfigField& f : config_fields()) {
    if (f.name == name) {
      f.set(config, value);
      return;
    }
  }
  std::vector<std::string> known;
  for (const ConfigField& f : config_fields()) known.push_back(f.name);
  throw Error(fmt::format("unknown model flag --{} (known: {})", name, fmt::join(known, ", ")));
}

std::string describe_config(const ReformerConfig& config) {
  std::string out;
  for (const ConfigField& f : config_fields()) out += fmt::format("  --{}={}\n", f.name, f.get(config));
  return out;
}

}  // namespace reforge
