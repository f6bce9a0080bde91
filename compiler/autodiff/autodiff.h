// Reverse-mode automatic differentiation over the Graph IR.
//
// Gradient nodes are appended to the same graph, built by each op's vjp
// rule (ops/), named "<forward name>.grad.*" and attributed to the forward
// node's source line. Integer and boolean values carry no gradient.
#pragma once

#include <map>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace reforge {

struct AutodiffOptions {
  // Gradient rules that replace an op's own, by op name. Passes that change
  // how the backward pass is computed (reversible recompute) supply them.
  std::map<std::string, VjpRule> rule_overrides;
  // Ops that have a rule rebuilding their inputs from their outputs
  // (OpDef::reconstructing_vjp: reversible blocks) use it.
  bool reconstruct_inputs = false;
};

// Cotangents of `wrt` for  sum_i <seeds[i], outputs[i]>.  Differentiation
// stops at the `wrt` values (their own inputs are not visited), so a value
// and something it depends on can both be asked for. An invalid Tensor is
// returned where no path exists; a value listed twice gets its gradient at
// the first position only.
std::vector<Tensor> vjp(Graph& graph, const std::vector<Tensor>& outputs, const std::vector<Tensor>& seeds,
                        const std::vector<Tensor>& wrt, const AutodiffOptions& options = {});

// Gradients of a scalar `loss`; a parameter with no path gets zeros.
std::vector<Tensor> gradients(Tensor loss, const std::vector<Tensor>& wrt, const AutodiffOptions& options = {});

}  // namespace reforge
