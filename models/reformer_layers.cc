#include "models/reformer_layers.h"

#include <cmath>

#include "compiler/dsl/dsl.h"

namespace reforge {

EmbeddingConfig::EmbeddingConfig(const ReformerConfig& c)
    : vocab_size(c.vocab_size),
      d_model(c.d_model),
      seq_len(c.seq_len),
      axial_rows(c.axial_rows),
      axial_cols(c.axial_cols),
      axial_row_width(c.axial_row_width) {}

int64_t EmbeddingConfig::axial_cols_resolved() const {
  return axial_cols > 0 ? axial_cols : static_cast<int64_t>(std::ceil(std::sqrt(static_cast<double>(seq_len))));
}
int64_t EmbeddingConfig::axial_rows_resolved() const {
  const int64_t cols = axial_cols_resolved();
  return axial_rows > 0 ? axial_rows : (seq_len + cols - 1) / cols;
}
int64_t EmbeddingConfig::axial_row_width_resolved() const {
  return axial_row_width > 0 ? axial_row_width : d_model / 2;
}

LmHeadConfig::LmHeadConfig(const ReformerConfig& c)
    : vocab_size(c.vocab_size), d_model(c.d_model), tied_embedding(c.tied_embedding) {}

LayerNormParams make_layer_norm(Graph& g, int64_t width) {
  return {g.param("norm.gamma", {width}, Init::ones()), g.param("norm.beta", {width}, Init::zeros())};
}

Tensor normalize(Tensor x, const LayerNormParams& p) { return layer_norm(x, p.gamma, p.beta); }

AttentionWeights make_attention_weights(Graph& g, const AttentionConfig& c, AttentionKind kind) {
  double scale = 1.0 / std::sqrt(static_cast<double>(c.d_model));
  AttentionWeights w;
  w.w_q = g.param("w_q", {c.d_model, c.n_heads * c.d_head}, Init::normal(scale));
  if (kind != AttentionKind::lsh) w.w_k = g.param("w_k", {c.d_model, c.n_heads * c.d_head}, Init::normal(scale));
  w.w_v = g.param("w_v", {c.d_model, c.n_heads * c.d_head}, Init::normal(scale));
  w.w_o = g.param("w_o", {c.n_heads * c.d_head, c.d_model},
                  Init::normal(1.0 / std::sqrt(static_cast<double>(c.n_heads * c.d_head))));
  return w;
}

AxialPositions make_axial_positions(Graph& g, const EmbeddingConfig& c) {
  auto scope = g.scope("axial");
  int64_t rows = c.axial_rows_resolved(), cols = c.axial_cols_resolved();
  int64_t w1 = c.axial_row_width_resolved(), w2 = c.d_model - w1;
  return {g.param("rows", {rows, 1, w1}, Init::normal(1.0)), g.param("cols", {1, cols, w2}, Init::normal(1.0))};
}

Tensor axial_table(const AxialPositions& p, const EmbeddingConfig& c) {
  int64_t rows = p.rows.dim(0), cols = p.cols.dim(1), w1 = p.rows.dim(2), w2 = p.cols.dim(2);
  Tensor grid = concat({broadcast_to(p.rows, {rows, cols, w1}), broadcast_to(p.cols, {rows, cols, w2})}, 2);
  Tensor flat = reshape(grid, {rows * cols, c.d_model});
  return rows * cols == c.seq_len ? flat : slice(flat, 0, 0, c.seq_len);
}

Tensor axial_at(const AxialPositions& p, Tensor position, const EmbeddingConfig& c) {
  Graph& g = *position.graph;
  int64_t rows = p.rows.dim(0), cols = p.cols.dim(1);
  Tensor column_count = constant(g, static_cast<double>(cols), position.type());
  Tensor row_part = embedding(reshape(p.rows, {rows, p.rows.dim(2)}), floordiv(position, column_count));
  Tensor col_part = embedding(reshape(p.cols, {cols, p.cols.dim(2)}), mod(position, column_count));
  return concat({row_part, col_part}, static_cast<int64_t>(position.shape().size()));
}

Tensor lm_head(Graph& g, Tensor h, Tensor token_table, const LmHeadConfig& c, std::source_location loc) {
  auto call = called_from(loc);
  int64_t width = h.dim(-1);
  h = layer_norm(h, g.param("norm.gamma", {width}, Init::ones()), g.param("norm.beta", {width}, Init::zeros()));
  if (c.tied_embedding) {
    // Project to d_model, then score against the (shared) token embedding.
    if (width != c.d_model) {
      h = linear(h, g.param("to_model", {width, c.d_model}, Init::normal(1.0 / std::sqrt(double(width)))));
    }
    return linear(h, swap_last_axes(token_table));
  }
  return linear(h, g.param("w", {width, c.vocab_size}, Init::normal(1.0 / std::sqrt(double(width))))) +
         g.param("b", {c.vocab_size}, Init::zeros());
}

}  // namespace reforge
