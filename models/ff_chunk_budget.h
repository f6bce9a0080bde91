// FFN chunking by memory budget: the smallest feed-forward chunk count
// whose training step fits the budget, found by planning the step.
#pragma once

#include <cstdint>
#include <string>

#include "compiler/pipeline/compile.h"
#include "models/reformer_config.h"

namespace reforge {

struct ChunkChoice {
  int64_t ff_chunks = 1;
  int64_t peak_bytes = 0;  // the planned transient peak with that count
};

// Tries 1, 2, 4, ... (and finally seq_len) chunks. Throws reforge::Error,
// naming the smallest peak reached, when no count fits.
ChunkChoice choose_ff_chunks(const ReformerConfig& config, int64_t budget_bytes, const CompileOptions& options = {});

// "4096", "512KiB", "256MiB", "2GiB" -> bytes; an Error names bad input.
int64_t parse_byte_size(const std::string& text);

}  // namespace reforge
