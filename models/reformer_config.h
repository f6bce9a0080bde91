// Everything that defines a Reformer variant (and the full-attention
// Transformer baseline, which is the same config with attention = full and
// reversible = false). Every field is settable from the command line as
// --<field>=<value>; see config_fields() for the table.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace reforge {

enum class AttentionKind { lsh, local, full };
enum class AttentionMode { trax, paper };

const char* attention_kind_name(AttentionKind kind);

struct ReformerConfig {
  // The structure: a builder registered under this name
  // (models/architecture.h) turns the config into a graph.
  std::string architecture = "reformer-lm";

  // Shapes.
  int64_t vocab_size = 256;
  int64_t seq_len = 64;
  int64_t batch = 1;
  int64_t d_model = 64;
  int64_t n_heads = 2;
  int64_t d_head = 32;  // width of q(k) and v per head
  int64_t d_ff = 128;
  int64_t n_layers = 2;

  // Attention. `attention` is a per-layer pattern repeated over the layers,
  // e.g. {local, lsh} alternates (trax's enwik8 configuration mixes them).
  std::vector<AttentionKind> attention = {AttentionKind::lsh};
  int64_t n_hashes = 2;
  int64_t chunk_len = 16;
  int64_t n_buckets = 0;  // 0: 2 * padded_len / chunk_len (trax's default)
  bool causal = true;
  AttentionMode attention_mode = AttentionMode::trax;

  // Layers.
  bool reversible = true;              // two-stream reversible residual; false: standard pre-norm residual
  int64_t ff_chunks = 1;               // feed-forward evaluated in this many sequence chunks
  std::string ff_activation = "gelu";  // gelu | relu
  bool ff_gated = false;               // gated (GLU family): act(x W1 + b1) * (x Wg + bg), then W2

  // Axial positional embedding: seq positions (i, j) of an L1 x L2 grid get
  // concat(E1[i], E2[j]). Zeros mean "choose": L2 = ceil(sqrt(L)), widths d/2.
  int64_t axial_rows = 0;
  int64_t axial_cols = 0;
  int64_t axial_row_width = 0;

  // Regularisation and output.
  double dropout = 0.0;            // residual-branch dropout
  double attention_dropout = 0.0;  // on attention probabilities
  bool tied_embedding = false;
  int64_t n_classes = 0;  // classes of a classification head (0: the model has none)

  // Training.
  double learning_rate = 1e-3;
  double weight_decay = 0.0;

  // Data parallelism: the replicas (ranks) that share each step. `batch`
  // stays the global batch; each replica's graph takes batch / replicas
  // rows, and its loss is normalised by the weight of the whole batch.
  // Not a field of config_fields(): how many processes train a model is
  // not part of the model (a run resumes on any number of ranks).
  int64_t replicas = 1;
  int64_t local_batch() const { return batch / replicas; }

  // Derived values (after validate()).
  int64_t padded_len() const;                   // seq_len rounded up to a multiple of chunk_len
  int64_t buckets() const;                      // n_buckets or its default
  std::vector<int64_t> bucket_factors() const;  // factorisation used for hashing
  AttentionKind attention_of_layer(int64_t layer) const;
  int64_t axial_rows_resolved() const;
  int64_t axial_cols_resolved() const;
  int64_t axial_row_width_resolved() const;

  // Throws reforge::Error with a message that says what to change.
  void validate() const;
};

struct ConfigField {
  std::string name;
  std::string help;
  std::string (*get)(const ReformerConfig&);
  void (*set)(ReformerConfig&, const std::string&);
};

const std::vector<ConfigField>& config_fields();

// Applies "--name=value" style settings; unknown names are an Error that
// lists the known ones.
void set_config_field(ReformerConfig& config, const std::string& name, const std::string& value);
std::string describe_config(const ReformerConfig& config);

}  // namespace reforge
