#include "runtime/communicator.h"

#include <fmt/format.h>

#include <cstdlib>
#include <cstring>
#include <vector>

#include "base/error.h"
#include "base/fnv1a.h"

namespace reforge::runtime {
namespace {

// Rank `root`'s string on every rank.
std::string broadcast_string(Communicator& c, const std::string& value, int root) {
  int64_t length = static_cast<int64_t>(value.size());
  c.broadcast(&length, sizeof length, root);
  std::string out = c.rank() == root ? value : std::string(static_cast<size_t>(length), '\0');
  if (length > 0) c.broadcast(out.data(), length, root);
  return out;
}

// The first rank (from 1) whose `differs` is true, agreed on every rank; -1 if none.
int first_differing_rank(Communicator& c, bool differs) {
  std::vector<int64_t> flags(static_cast<size_t>(c.size()), 0);
  flags[static_cast<size_t>(c.rank())] = differs ? 1 : 0;
  c.all_reduce(flags.data(), static_cast<int64_t>(flags.size()), DType::i64);
  for (size_t r = 0; r < flags.size(); ++r) {
    if (flags[r] != 0) return static_cast<int>(r);
  }
  return -1;
}

// Where two values first differ, as each shows it: the first line that
// differs (a config is a flag a line), cut to 80 characters around the
// first differing character.
std::pair<std::string, std::string> first_difference(const std::string& a, const std::string& b) {
  size_t at = 0;
  while (at < a.size() && at < b.size() && a[at] == b[at]) ++at;
  auto excerpt = [at](const std::string& value) {
    const size_t line = value.rfind('\n', at == 0 ? 0 : at - 1);
    const size_t begin = line == std::string::npos || at == 0 ? 0 : line + 1;
    const size_t end = std::min(value.find('\n', at), begin + 80);
    std::string out = value.substr(begin, end == std::string::npos ? std::string::npos : end - begin);
    const size_t indent = out.find_first_not_of(' ');
    return indent == std::string::npos ? out : out.substr(indent);
  };
  return {excerpt(a), excerpt(b)};
}

}  // namespace

void LocalCommunicator::abort(int exit_code) { std::exit(exit_code); }

void require_same_on_every_rank(Communicator& c, const std::string& what, const std::string& value) {
  if (c.size() == 1) return;
  const std::string first = broadcast_string(c, value, 0);
  const int differing = first_differing_rank(c, value != first);
  if (differing < 0) return;
  const std::string other = broadcast_string(c, value, differing);
  auto [a, b] = first_difference(first, other);
  throw Error(fmt::format("the ranks disagree on {}: rank 0 has '{}', rank {} has '{}'", what, a, differing, b));
}

void require_same_hash_on_every_rank(Communicator& c, const std::string& what, std::string_view bytes) {
  if (c.size() == 1) return;
  uint64_t hash = fnv1a(bytes);
  uint64_t first = hash;
  c.broadcast(&first, sizeof first, 0);
  const int differing = first_differing_rank(c, hash != first);
  if (differing >= 0) {
    throw Error(fmt::format("the ranks disagree on {}: its hash on rank {} differs from rank 0's", what, differing));
  }
}

}  // namespace reforge::runtime
