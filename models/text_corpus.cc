#include "models/text_corpus.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <array>
#include <cerrno>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <vector>

#include "base/error.h"
#include "base/durable_file.h"
#include "runtime/kernels/counter_rng.h"

namespace reforge {
namespace {

// A few hundred bytes of plain English, repeated with variations, so that
// the byte model has structure to learn without any download.
std::string builtin_text() {
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

constexpr int64_t kMaxDirectoryBytes = int64_t{4} << 30;

}  // namespace

std::string default_corpus_path() {
  if (const char* dir = std::getenv("REFORGE_DATA_DIR"); dir && *dir) return std::string(dir) + "/kjv.txt";
  const char* home = std::getenv("HOME");
  return std::string(home && *home ? home : "/root") + "/.cache/reforge/data/kjv.txt";
}

std::shared_ptr<const TextCorpus> TextCorpus::open(const std::string& spec) {
  std::shared_ptr<TextCorpus> c(new TextCorpus());
  if (spec == "builtin") {
    c->origin_ = "the built-in text";
    c->owned_ = builtin_text();
    c->text_ = c->owned_;
  } else {
    const std::string path = spec.empty() ? default_corpus_path() : spec;
    c->origin_ = path;
    struct stat info;
    if (stat(path.c_str(), &info) != 0) {
      if (spec.empty()) {
        throw Error(
            fmt::format("the default corpus {} is missing: scripts/install_deps.sh writes it (from Debian's "
                        "bible-kjv), or name a text with --data=FILE (--data=builtin: a small built-in text)",
                        path));
      }
      throw Error(fmt::format("--data {}: {}", path, std::strerror(errno)));
    }
    if (S_ISDIR(info.st_mode)) {
      std::vector<std::filesystem::path> files;
      for (const auto& entry : std::filesystem::directory_iterator(path)) {
        if (entry.is_regular_file()) files.push_back(entry.path());
      }
      std::sort(files.begin(), files.end());
      for (const auto& f : files) {
        c->owned_ += read_whole_file(f.string(), "--data file", kMaxDirectoryBytes - c->owned_.size());
      }
      if (files.empty()) throw Error(fmt::format("--data {}: the directory holds no regular files", path));
      c->text_ = c->owned_;
    } else {
      if (!S_ISREG(info.st_mode)) throw Error(fmt::format("--data {}: not a regular file or directory", path));
      int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
      if (fd < 0) throw Error(fmt::format("--data {}: {}", path, std::strerror(errno)));
      if (info.st_size > 0) {
        void* p = mmap(nullptr, static_cast<size_t>(info.st_size), PROT_READ, MAP_PRIVATE, fd, 0);
        if (p == MAP_FAILED) {
          int error = errno;
          close(fd);
          throw Error(fmt::format("--data {}: cannot map it: {}", path, std::strerror(error)));
        }
        c->mapping_ = p;
        c->mapping_bytes_ = static_cast<size_t>(info.st_size);
        c->text_ = std::string_view(static_cast<const char*>(p), c->mapping_bytes_);
      }
      close(fd);
    }
  }
  if (c->text_.empty()) throw Error(fmt::format("--data {}: the text is empty", c->origin_));
  size_t held_out = std::max<size_t>(c->text_.size() / 20, std::min<size_t>(4096, c->text_.size() / 2));
  c->split_ = c->text_.size() - held_out;
  return c;
}

TextCorpus::~TextCorpus() {
  if (mapping_) munmap(mapping_, mapping_bytes_);
}

double TextCorpus::unigram_bits_per_byte() const {
  std::array<double, 256> counts;
  counts.fill(1.0);
  for (unsigned char c : train()) counts[c] += 1.0;
  double total = 0;
  for (double n : counts) total += n;
  double bits = 0;
  for (unsigned char c : validation()) bits -= std::log2(counts[c] / total);
  return validation().empty() ? 0.0 : bits / static_cast<double>(validation().size());
}

}  // namespace reforge
