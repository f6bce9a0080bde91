// The byte-lm preset, for variant files that change a part of it (a plain
// function: a variant's registration may call it whatever the order in
// which the files register).
#pragma once

#include "models/model_registry.h"

namespace reforge {

ModelEntry byte_lm_preset();

}  // namespace reforge
