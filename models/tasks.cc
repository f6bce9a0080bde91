#include "models/tasks.h"

#include <fmt/format.h>

#include "base/error.h"
#include "models/text_corpus.h"
#include "runtime/kernels/counter_rng.h"

namespace reforge {
namespace {

// The key of held-out draws: the same whatever the training seed.
constexpr uint64_t kValidationKey = 0x5e1d0071;

Batch empty_batch(const ReformerConfig& c, int64_t step, uint64_t seed) {
  Batch b;
  b["tokens"] = HostTensor({DType::i64, {c.batch, c.seq_len}});
  b["targets"] = HostTensor({DType::i64, {c.batch, c.seq_len}});
  b["loss_weights"] = HostTensor({DType::f32, {c.batch, c.seq_len}});
  b["rng"] = batch_random_key(seed, step);
  return b;
}

class DuplicationTask : public GeneratedTask {
 public:
  DuplicationTask(const ReformerConfig& c, uint64_t seed) : GeneratedTask(c, seed, kValidationKey) {
    if (c.seq_len < 4 || c.seq_len % 2 != 0) {
      throw Error(fmt::format("duplication needs an even --seq_len >= 4 (0 w 0 w), got {}", c.seq_len));
    }
    if (c.vocab_size < 3) throw Error("duplication needs --vocab_size >= 3 (symbol 0 separates)");
  }

  std::string loss_unit() const override { return "nats per copied symbol"; }
  std::string bits_unit() const override { return "copied symbol"; }
  std::string describe() const override { return fmt::format("random copies of {} symbols", config().seq_len / 2 - 1); }

 private:
  // The batch's random key is the seed's, for held-out batches too.
  Batch draw(uint64_t key, int64_t step) const override {
    const ReformerConfig& c = config();
    const int64_t len = c.seq_len, half = len / 2;
    Batch b = empty_batch(c, step, seed());
    for (int64_t row = 0; row < c.batch; ++row) {
      std::vector<int64_t> seq(len, 0);
      for (int64_t i = 1; i < half; ++i) {
        uint64_t r = kernels::counter_bits(key, static_cast<uint64_t>(step), static_cast<uint64_t>(row * len + i));
        seq[i] = 1 + static_cast<int64_t>(r % static_cast<uint64_t>(c.vocab_size - 1));
        seq[half + i] = seq[i];
      }
      for (int64_t t = 0; t < len; ++t) {
        int64_t at = row * len + t;
        b["tokens"][at] = static_cast<double>(seq[t]);
        b["targets"][at] = t + 1 < len ? static_cast<double>(seq[t + 1]) : 0.0;
        // Predictions of the second w: positions half .. len-2.
        b["loss_weights"][at] = (t >= half && t + 1 < len) ? 1.0 : 0.0;
      }
    }
    return b;
  }
};

class ByteLmTask : public Task {
 public:
  ByteLmTask(const ReformerConfig& c, std::shared_ptr<const TextCorpus> corpus, uint64_t seed)
      : config_(c), corpus_(std::move(corpus)), seed_(seed) {
    if (c.vocab_size < 256) throw Error(fmt::format("byte-level text needs --vocab_size >= 256, got {}", c.vocab_size));
    size_t needed = static_cast<size_t>(c.seq_len) + 2;
    if (corpus_->train().size() < needed || corpus_->validation().size() < needed) {
      throw Error(fmt::format("--data {}: {} bytes ({} for training, {} held out); --seq_len={} needs {} in each",
                              corpus_->origin(), corpus_->text().size(), corpus_->train().size(),
                              corpus_->validation().size(), c.seq_len, needed));
    }
  }

  Batch batch(int64_t step) const override { return windows(corpus_->train(), seed_, step, step); }

  // Fixed windows of the held-out text, whatever the seed.
  Batch validation_batch(int64_t index) const override {
    return windows(corpus_->validation(), kValidationKey, index, index);
  }

  std::string loss_unit() const override { return "nats per byte"; }
  std::string bits_unit() const override { return "byte"; }
  std::optional<double> baseline_bits() const override { return corpus_->unigram_bits_per_byte(); }
  std::string describe() const override {
    return fmt::format("{} ({:.1f} MB training, {:.1f} KB held out)", corpus_->origin(), corpus_->train().size() / 1e6,
                       corpus_->validation().size() / 1e3);
  }

 private:
  Batch windows(std::string_view text, uint64_t key, int64_t draw, int64_t step) const {
    const int64_t len = config_.seq_len;
    Batch b = empty_batch(config_, step, seed_);
    uint64_t starts = text.size() - static_cast<uint64_t>(len) - 1;
    for (int64_t row = 0; row < config_.batch; ++row) {
      uint64_t start = kernels::counter_bits(key, static_cast<uint64_t>(draw), static_cast<uint64_t>(row)) % starts;
      for (int64_t t = 0; t < len; ++t) {
        int64_t at = row * len + t;
        b["tokens"][at] = static_cast<unsigned char>(text[start + t]);
        b["targets"][at] = static_cast<unsigned char>(text[start + t + 1]);
        b["loss_weights"][at] = 1.0;
      }
    }
    return b;
  }

  ReformerConfig config_;
  std::shared_ptr<const TextCorpus> corpus_;
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<Task> make_duplication_task(const ReformerConfig& config, uint64_t seed) {
  return std::make_unique<DuplicationTask>(config, seed);
}

HostTensor batch_random_key(uint64_t key, int64_t step) {
  return HostTensor::scalar(DType::i64, static_cast<double>(kernels::mix64(key * 1000003 + step) >> 12));
}

void refuse_data(const TaskSource& source, const std::string& what) {
  if (!source.data.empty()) {
    throw UsageError(fmt::format("--data: model '{}' trains on {}, not on a text", source.model, what));
  }
}

std::unique_ptr<Task> duplication_task(const TaskSource& source) {
  return generated_task<DuplicationTask>("generated copies")(source);
}

std::unique_ptr<Task> byte_lm_task(const TaskSource& source) {
  return make_byte_lm_task(source.config, source.data, source.seed);
}

std::unique_ptr<Task> make_byte_lm_task(const ReformerConfig& config, const std::string& data, uint64_t seed) {
  return std::make_unique<ByteLmTask>(config, TextCorpus::open(data), seed);
}

}  // namespace reforge
