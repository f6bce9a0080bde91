#include "models/blocks/heads.h"

#include <fmt/format.h>

#include <cmath>

#include "base/error.h"
#include "compiler/dsl/dsl.h"

namespace reforge {

Tensor pooled_classifier(Graph& g, Tensor h, int64_t classes, std::source_location loc) {
  auto call = called_from(loc);
  if (h.rank() != 3) {
    throw Error(fmt::format("{}: pooled_classifier: needs states [B, L, w], got {}", to_source_loc(loc).to_string(),
                            type_to_string(h.type())));
  }
  const int64_t width = h.dim(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(width));
  Tensor normed =
      layer_norm(h, g.param("norm.gamma", {width}, Init::ones()), g.param("norm.beta", {width}, Init::zeros()));
  Tensor pooled = mean(normed, {1});  // [B, w]
  return linear(pooled, g.param("w", {width, classes}, Init::normal(scale))) + g.param("b", {classes}, Init::zeros());
}

LossAndAccuracy weighted_cross_entropy(Tensor logits, Tensor targets, Tensor weights, int64_t replicas,
                                       std::source_location loc) {
  auto call = called_from(loc);
  auto over_replicas = [&](Tensor x) { return replicas > 1 ? replica_sum(x) : x; };
  Tensor weight_sum = over_replicas(sum_all(weights));
  LossAndAccuracy out;
  out.loss = over_replicas(sum_all(cross_entropy(logits, targets) * weights) / weight_sum);
  Tensor hits = cast(equal(argmax(logits, -1), targets), weights.dtype());
  out.accuracy = over_replicas(sum_all(hits * weights) / weight_sum);
  return out;
}

}  // namespace reforge
