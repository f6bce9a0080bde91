// Data-parallel training (issue 21): every replica computes the gradients
// of its own rows of the batch, and this pass makes the optimizer read
// their sum over the replicas. The parameter gradients are packed into
// buckets in the order the backward pass finishes them; each bucket's
// all-reduce starts right after its last gradient is final
// (all_reduce_start), so the sum travels while the backward goes on, and
// is waited for just before the first optimizer node that reads it
// (all_reduce_wait). The optimizer then reads each gradient as a slice of
// its summed bucket. See ops/collectives.cc for the ops.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include "compiler/ir/graph.h"

namespace reforge {

struct GradientBuckets {
  // A bucket is closed once it holds at least this many bytes (PyTorch
  // DDP's buckets are 25 MiB; smaller ones start communicating earlier).
  int64_t bucket_bytes = int64_t{4} << 20;
};

// `gradients`: the parameter gradients' node names (TrainingStep::gradients).
// New nodes carry ValueRole::communication; the buckets are numbered from 0
// in the order they start.
std::unique_ptr<Graph> insert_gradient_all_reduce(const Graph& graph, const std::vector<std::string>& gradients,
                                                  const GradientBuckets& options = {});

}  // namespace reforge
