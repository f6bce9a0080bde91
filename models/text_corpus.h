// A text to train a byte-level model on, split into training bytes and a
// held-out tail for validation. A file is memory-mapped (a corpus of
// gigabytes costs no memory up front); a directory is every regular file
// in it, in name order; "builtin" is a small generated English text that
// needs nothing installed; "" means the default corpus, the King James
// Bible that scripts/install_deps.sh writes from Debian's bible-kjv.
#pragma once

#include <cstdint>
#include <memory>
#include <string>
#include <string_view>

namespace reforge {

class TextCorpus {
 public:
  // Throws reforge::Error naming the path and what is wrong (missing,
  // empty, unreadable, a directory without files).
  static std::shared_ptr<const TextCorpus> open(const std::string& spec);
  ~TextCorpus();

  const std::string& origin() const { return origin_; }
  std::string_view text() const { return text_; }
  // The last 5% (at least 4 KiB where the text allows) is held out.
  std::string_view train() const { return text_.substr(0, split_); }
  std::string_view validation() const { return text_.substr(split_); }

  // Bits per byte of the held-out text under the training text's byte
  // frequencies (add-one smoothed): what a model that learned nothing but
  // byte counts would score.
  double unigram_bits_per_byte() const;

 private:
  TextCorpus() = default;
  std::string origin_;
  std::string owned_;        // builtin text or a directory's files
  void* mapping_ = nullptr;  // a mapped file
  size_t mapping_bytes_ = 0;
  std::string_view text_;
  size_t split_ = 0;
};

// $REFORGE_DATA_DIR/kjv.txt, or ~/.cache/reforge/data/kjv.txt.
std::string default_corpus_path();

}  // namespace reforge
