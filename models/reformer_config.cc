#include "models/reformer_config.h"

#include <fmt/format.h>

#include <cmath>

#include "compiler/ir/error.h"

namespace reforge {
namespace {

int64_t parse_int(const std::string& name, const std::string& v) {
  try {
    size_t used = 0;
    long long x = std::stoll(v, &used);
    if (used == v.size()) return x;
  } catch (const std::logic_error&) {
  }
  throw Error(fmt::format("--{} must be an integer, got '{}'", name, v));
}

double parse_double(const std::string& name, const std::string& v) {
  try {
    size_t used = 0;
    double x = std::stod(v, &used);
    if (used == v.size()) return x;
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

int64_t ceil_div(int64_t a, int64_t b) { return (a + b - 1) / b; }

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

int64_t ReformerConfig::padded_len() const { return ceil_div(seq_len, chunk_len) * chunk_len; }

int64_t ReformerConfig::buckets() const {
  return n_buckets > 0 ? n_buckets : std::max<int64_t>(2, 2 * padded_len() / chunk_len);
}

// Large bucket counts are hashed as a product of two even factors (each with
// its own f/2 rotation columns), so hashing costs O(L (f1 + f2)), not O(L nb).
std::vector<int64_t> ReformerConfig::bucket_factors() const {
  int64_t nb = buckets();
  if (nb <= 128) return {nb};
  int64_t best = 0;
  for (int64_t f = 2; f * f <= nb; f += 2) {
    if (nb % f == 0 && (nb / f) % 2 == 0) best = f;
  }
  if (best == 0) return {nb};
  return {best, nb / best};
}

AttentionKind ReformerConfig::attention_of_layer(int64_t layer) const {
  return attention[static_cast<size_t>(layer) % attention.size()];
}

int64_t ReformerConfig::axial_cols_resolved() const {
  return axial_cols > 0 ? axial_cols : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(seq_len))));
}
int64_t ReformerConfig::axial_rows_resolved() const {
  return axial_rows > 0 ? axial_rows : ceil_div(seq_len, axial_cols_resolved());
}
int64_t ReformerConfig::axial_row_width_resolved() const { return axial_row_width > 0 ? axial_row_width : d_model / 2; }

void ReformerConfig::validate() const {
  auto positive = [](const char* name, int64_t v) {
    if (v < 1) throw Error(fmt::format("--{} must be at least 1, got {}", name, v));
  };
  positive("vocab_size", vocab_size);
  positive("seq_len", seq_len);
  positive("batch", batch);
  positive("d_model", d_model);
  positive("n_heads", n_heads);
  positive("d_head", d_head);
  positive("d_ff", d_ff);
  positive("n_layers", n_layers);
  positive("n_hashes", n_hashes);
  positive("chunk_len", chunk_len);
  positive("ff_chunks", ff_chunks);
  if (attention.empty()) throw Error("--attention needs at least one kind");
  if (n_buckets != 0 && (n_buckets < 2 || n_buckets % 2 != 0)) {
    throw Error(fmt::format("--n_buckets must be even and at least 2 (or 0 for 2*L/chunk_len), got {}", n_buckets));
  }
  for (int64_t f : bucket_factors()) {
    if (f % 2 != 0)
      throw Error(fmt::format("bucket factor {} of {} buckets is odd; use an even --n_buckets", f, buckets()));
  }
  if (ff_chunks > seq_len) {
    throw Error(fmt::format("--ff_chunks={} exceeds --seq_len={}", ff_chunks, seq_len));
  }
  if (ff_activation != "gelu" && ff_activation != "relu") {
    throw Error("--ff_activation must be gelu or relu, got '" + ff_activation + "'");
  }
  int64_t w1 = axial_row_width_resolved();
  if (w1 < 1 || w1 >= d_model) {
    throw Error(fmt::format("--axial_row_width must be in [1, d_model), got {} with d_model {}", w1, d_model));
  }
  if (axial_rows_resolved() * axial_cols_resolved() < seq_len) {
    throw Error(fmt::format("axial shape {}x{} covers {} positions, fewer than --seq_len={}", axial_rows_resolved(),
                            axial_cols_resolved(), axial_rows_resolved() * axial_cols_resolved(), seq_len));
  }
  if (dropout < 0 || dropout >= 1 || attention_dropout < 0 || attention_dropout >= 1) {
    throw Error("dropout rates must be in [0, 1)");
  }
}

const std::vector<ConfigField>& config_fields() {
  static const std::vector<ConfigField> fields = {
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
      INT_FIELD(n_buckets, "LSH buckets per round (even; 0 = 2*L/chunk_len)"),
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
      INT_FIELD(axial_rows, "axial position grid rows (0 = choose)"),
      INT_FIELD(axial_cols, "axial position grid columns (0 = choose)"),
      INT_FIELD(axial_row_width, "width of the row embedding (0 = d_model/2)"),
      DOUBLE_FIELD(dropout, "residual-branch dropout rate"),
      DOUBLE_FIELD(attention_dropout, "attention-probability dropout rate"),
      BOOL_FIELD(tied_embedding, "share the input embedding with the output layer"),
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
