// Data-parallel training on the training library's side (issue 21): the
// compiled step of each replica sums the loss's normaliser and the
// parameter gradients over the replicas (ops/collectives.cc,
// compiler/passes/gradient_all_reduce.h); what is left here is which rows
// of a batch are this rank's, and that every rank starts from the same
// values.
//
// Every rank builds the same global batch for a step — the task's data
// depend on (seed, step, row) only — and keeps its own rows: rank r of N
// trains rows [r B/N, (r+1) B/N). So a run's batches, and therefore its
// losses, do not depend on how many ranks share them.
#pragma once

#include <memory>

#include "runtime/communicator.h"
#include "training/session.h"

namespace reforge::training {

// A session of one replica among `communicator`'s, fed global batches:
// train_step and forward pass its own rows to `replica` (whose graphs take
// batch / size rows). With one rank, `replica` itself. `communicator` must
// outlive it.
std::unique_ptr<ModelSession> share_batches(std::unique_ptr<ModelSession> replica,
                                            runtime::Communicator& communicator);

// Rows [rank * rows / size, (rank + 1) * rows / size) of every value of
// `batch` whose first dimension is the global batch `rows`; other values
// (the random key) as they are.
ValueMap rows_of_rank(const ValueMap& batch, int64_t rows, int rank, int size);

// Rank 0's parameters and optimizer state on every rank, then checked by
// hash (an Error names a rank that differs).
void share_rank0_values(ModelSession& session, runtime::Communicator& communicator);

}  // namespace reforge::training
