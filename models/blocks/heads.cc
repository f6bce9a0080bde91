#include "models/blocks/heads.h"

#include <cmath>

#include "compiler/dsl/dsl.h"

namespace reforge {

Tensor pooled_classifier(Graph& g, Tensor h, int64_t classes) {
  const int64_t batch = h.dim(0), len = h.dim(1), width = h.dim(2);
  const double scale = 1.0 / std::sqrt(static_cast<double>(width));
  Tensor normed =
      layer_norm(h, g.param("norm.gamma", {width}, Init::ones()), g.param("norm.beta", {width}, Init::zeros()));
  Tensor scores = reshape(linear(normed, g.param("pool", {width, 1}, Init::normal(scale))), {batch, len});
  Tensor weights = reshape(softmax(scores, 1), {batch, len, 1});
  Tensor pooled = sum(normed * weights, {1});  // [B, w]
  return linear(pooled, g.param("w", {width, classes}, Init::normal(scale))) +
         g.param("b", {classes}, Init::zeros());
}

LossAndAccuracy weighted_cross_entropy(Tensor logits, Tensor targets, Tensor weights, int64_t replicas) {
  auto over_replicas = [&](Tensor x) { return replicas > 1 ? replica_sum(x) : x; };
  Tensor weight_sum = over_replicas(sum_all(weights));
  LossAndAccuracy out;
  out.loss = over_replicas(sum_all(cross_entropy(logits, targets) * weights) / weight_sum).named("loss");
  Tensor hits = cast(equal(argmax(logits, -1), targets), weights.dtype());
  out.accuracy = over_replicas(sum_all(hits * weights) / weight_sum).named("accuracy");
  return out;
}

}  // namespace reforge
