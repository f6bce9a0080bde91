#include "training/data_parallel.h"

#include <fmt/format.h>

#include "base/error.h"

namespace reforge::training {
namespace {

class ReplicaSession : public ModelSession {
 public:
  ReplicaSession(std::unique_ptr<ModelSession> replica, runtime::Communicator& communicator)
      : replica_(std::move(replica)), communicator_(communicator) {}

  ValueMap train_step(const ValueMap& batch) override { return replica_->train_step(own_rows(batch)); }

  ValueMap forward(const ValueMap& batch, const std::vector<std::string>& wanted) override {
    return replica_->forward(own_rows(batch), wanted);
  }

  std::vector<runtime::NamedTensor> persistent() const override { return replica_->persistent(); }

 protected:
  std::vector<std::pair<std::string, TensorType>> persistent_types() const override {
    return persistent_types_of(*replica_);
  }
  void write_persistent(const runtime::NamedTensor& value) override { write_persistent_of(*replica_, value); }

 private:
  ValueMap own_rows(const ValueMap& batch) const {
    auto tokens = batch.find("tokens");
    if (tokens == batch.end() || tokens->second.shape().empty()) throw Error("a batch without its tokens' rows");
    return rows_of_rank(batch, tokens->second.shape()[0], communicator_.rank(), communicator_.size());
  }

  std::unique_ptr<ModelSession> replica_;
  runtime::Communicator& communicator_;
};

}  // namespace

ValueMap rows_of_rank(const ValueMap& batch, int64_t rows, int rank, int size) {
  if (rows % size != 0) {
    throw Error(fmt::format("a batch of {} rows cannot be shared evenly by {} ranks", rows, size));
  }
  const int64_t own = rows / size, first = own * rank;
  ValueMap out;
  for (const auto& [name, value] : batch) {
    if (value.shape().empty() || value.shape()[0] != rows) {
      out[name] = value;
      continue;
    }
    TensorType type = value.type;
    type.shape[0] = own;
    const int64_t row = value.size() / rows;
    out[name] = HostTensor(type, std::vector<double>(value.data.begin() + first * row,
                                                     value.data.begin() + (first + own) * row));
  }
  return out;
}

void share_rank0_values(ModelSession& session, runtime::Communicator& communicator) {
  if (communicator.size() == 1) return;
  std::vector<runtime::NamedTensor> values = session.persistent();
  std::string all;
  for (runtime::NamedTensor& v : values) {
    communicator.broadcast(v.bytes.data(), static_cast<int64_t>(v.bytes.size()), 0);
    all += v.bytes;
  }
  session.restore(values);
  runtime::require_same_hash_on_every_rank(communicator, "the parameters and optimizer state", all);
}

std::unique_ptr<ModelSession> share_batches(std::unique_ptr<ModelSession> replica,
                                            runtime::Communicator& communicator) {
  if (communicator.size() == 1) return replica;
  return std::make_unique<ReplicaSession>(std::move(replica), communicator);
}

}  // namespace reforge::training
