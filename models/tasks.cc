#include "models/tasks.h"

#include <fmt/format.h>

#include <fstream>
#include <sstream>

#include "compiler/ir/error.h"
#include "runtime/kernels/counter_rng.h"

namespace reforge {
namespace {

Batch empty_batch(const ReformerConfig& c, int64_t step, uint64_t seed) {
  Batch b;
  b["tokens"] = HostTensor({DType::i64, {c.batch, c.seq_len}});
  b["targets"] = HostTensor({DType::i64, {c.batch, c.seq_len}});
  b["loss_weights"] = HostTensor({DType::f32, {c.batch, c.seq_len}});
  b["rng"] = HostTensor::scalar(DType::i64, static_cast<double>(kernels::mix64(seed * 1000003 + step) >> 12));
  return b;
}

class DuplicationTask : public Task {
 public:
  DuplicationTask(const ReformerConfig& c, uint64_t seed) : config_(c), seed_(seed) {
    if (c.seq_len < 4 || c.seq_len % 2 != 0) {
      throw Error(fmt::format("duplication needs an even --seq_len >= 4 (0 w 0 w), got {}", c.seq_len));
    }
    if (c.vocab_size < 3) throw Error("duplication needs --vocab_size >= 3 (symbol 0 separates)");
  }

  Batch batch(int64_t step) const override {
    const int64_t len = config_.seq_len, half = len / 2;
    Batch b = empty_batch(config_, step, seed_);
    for (int64_t row = 0; row < config_.batch; ++row) {
      std::vector<int64_t> seq(len, 0);
      for (int64_t i = 1; i < half; ++i) {
        uint64_t r = kernels::counter_bits(seed_, static_cast<uint64_t>(step), static_cast<uint64_t>(row * len + i));
        seq[i] = 1 + static_cast<int64_t>(r % static_cast<uint64_t>(config_.vocab_size - 1));
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

  std::string loss_unit() const override { return "nats per copied symbol"; }

 private:
  ReformerConfig config_;
  uint64_t seed_;
};

// A few hundred bytes of plain English, repeated with variations, so that
// the byte model has structure to learn without any download.
std::string builtin_corpus() {
  const char* subjects[] = {"the compiler", "a reversible layer", "the hash",        "every chunk",
                            "the runtime",  "attention",          "the memory plan", "a gradient"};
  const char* verbs[] = {"keeps", "sorts", "rebuilds", "shares", "measures", "saves", "reads", "writes"};
  const char* objects[] = {"the buckets", "its input",       "one arena",   "the sequence",
                           "each token",  "the activations", "a long text", "the keys"};
  std::string text;
  for (uint64_t i = 0; text.size() < 20000; ++i) {
    uint64_t r = kernels::mix64(i);
    text += subjects[r % 8];
    text += ' ';
    text += verbs[(r >> 8) % 8];
    text += ' ';
    text += objects[(r >> 16) % 8];
    text += (r >> 24) % 4 == 0 ? ".\n" : ". ";
  }
  return text;
}

class ByteLmTask : public Task {
 public:
  ByteLmTask(const ReformerConfig& c, std::string text, uint64_t seed)
      : config_(c), text_(std::move(text)), seed_(seed) {
    if (c.vocab_size < 256) throw Error(fmt::format("byte-level text needs --vocab_size >= 256, got {}", c.vocab_size));
    if (static_cast<int64_t>(text_.size()) < c.seq_len + 2) {
      throw Error(
          fmt::format("the text has {} bytes; --seq_len={} needs at least {}", text_.size(), c.seq_len, c.seq_len + 2));
    }
  }

  Batch batch(int64_t step) const override {
    const int64_t len = config_.seq_len;
    Batch b = empty_batch(config_, step, seed_);
    uint64_t windows = text_.size() - static_cast<uint64_t>(len) - 1;
    for (int64_t row = 0; row < config_.batch; ++row) {
      uint64_t start = kernels::counter_bits(seed_, static_cast<uint64_t>(step), static_cast<uint64_t>(row)) % windows;
      for (int64_t t = 0; t < len; ++t) {
        int64_t at = row * len + t;
        b["tokens"][at] = static_cast<unsigned char>(text_[start + t]);
        b["targets"][at] = static_cast<unsigned char>(text_[start + t + 1]);
        b["loss_weights"][at] = 1.0;
      }
    }
    return b;
  }

  std::string loss_unit() const override { return "nats per byte"; }

 private:
  ReformerConfig config_;
  std::string text_;
  uint64_t seed_;
};

}  // namespace

std::unique_ptr<Task> make_duplication_task(const ReformerConfig& config, uint64_t seed) {
  return std::make_unique<DuplicationTask>(config, seed);
}

std::unique_ptr<Task> make_byte_lm_task(const ReformerConfig& config, const std::string& path, uint64_t seed) {
  std::string text;
  if (path.empty()) {
    text = builtin_corpus();
  } else {
    std::ifstream in(path, std::ios::binary);
    if (!in) throw Error("cannot read --data file '" + path + "'");
    std::ostringstream content;
    content << in.rdbuf();
    text = content.str();
  }
  return std::make_unique<ByteLmTask>(config, std::move(text), seed);
}

}  // namespace reforge
