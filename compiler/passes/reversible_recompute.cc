#include "compiler/passes/reversible_recompute.h"

namespace reforge {

AutodiffOptions with_reversible_recompute(AutodiffOptions options) {
  options.reconstruct_inputs = true;
  return options;
}

}  // namespace reforge
