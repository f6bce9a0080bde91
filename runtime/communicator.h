// The processes a data-parallel job runs on, as the runtime sees them: a
// rank among `size` replicas and the collectives a training step needs.
// The compiler places the collectives (ops/collectives.cc); the runtime's
// library calls run them on the Communicator the Model was opened with;
// an embedding program may pass its own.
//
// Two implementations: LocalCommunicator (one process: every collective is
// the identity) and the MPI one (runtime/mpi_communicator.h), which runs
// every MPI call on one thread of its own so that a bucket's all-reduce
// proceeds while the backward pass computes. A communicator for device
// buffers (NCCL) implements the same calls on device pointers; nothing in
// the compiler changes.
#pragma once

#include <cstdint>
#include <memory>
#include <string>

#include "base/types.h"

namespace reforge::runtime {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  // Replaces `count` elements at `data` by their sum over every rank;
  // returns when done.
  virtual void all_reduce(void* data, int64_t count, DType dtype) = 0;
  // The same sum, started in the background under `tag` (a bucket); the
  // data must not be touched until wait(tag) returns. Every rank starts
  // the same tags in the same order.
  virtual void start_all_reduce(int tag, void* data, int64_t count, DType dtype) = 0;
  virtual void wait(int tag) = 0;
  // Rank `root`'s `bytes` bytes at `data`, on every rank.
  virtual void broadcast(void* data, int64_t bytes, int root) = 0;
  virtual void barrier() = 0;
  // Ends every rank of the job at once (after an error on one of them:
  // the others would wait in their next collective forever).
  [[noreturn]] virtual void abort(int exit_code) = 0;
  // "one process", "MPI, 2 ranks, fixed-order sums".
  virtual std::string describe() const = 0;
};

// One process: rank 0 of 1; sums over one rank are the data itself.
class LocalCommunicator : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void all_reduce(void*, int64_t, DType) override {}
  void start_all_reduce(int, void*, int64_t, DType) override {}
  void wait(int) override {}
  void broadcast(void*, int64_t, int) override {}
  void barrier() override {}
  [[noreturn]] void abort(int exit_code) override;
  std::string describe() const override { return "one process"; }
};

// Throws an Error on every rank when `value` (what `what` names: the
// model, its config, the data) is not the same bytes on every rank: the
// message names the first rank that differs from rank 0 and both values.
void require_same_on_every_rank(Communicator& communicator, const std::string& what, const std::string& value);

// FNV-1a of `bytes` agreed on every rank: an Error names the first rank
// whose hash differs from rank 0's (parameters after the broadcast).
void require_same_hash_on_every_rank(Communicator& communicator, const std::string& what, std::string_view bytes);

}  // namespace reforge::runtime
