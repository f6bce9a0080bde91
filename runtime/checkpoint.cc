#include "runtime/checkpoint.h"

#include <fmt/format.h>

#include <algorithm>
#include <charconv>
#include <filesystem>

#include "base/error.h"
#include "base/durable_file.h"
#include "base/fnv1a.h"
#include "base/json_reader.h"

namespace reforge::runtime {
namespace {

constexpr const char* kPrefix = "checkpoint-";
constexpr const char* kSuffix = ".safetensors";
constexpr int64_t kMaxCheckpointBytes = int64_t{64} << 30;

std::string file_name(int64_t step) { return fmt::format("{}{:08}{}", kPrefix, step, kSuffix); }

// The step in a checkpoint's file name; nothing for other files.
std::optional<int64_t> step_of(const std::string& name) {
  std::string_view s(name);
  if (!s.starts_with(kPrefix) || !s.ends_with(kSuffix)) return std::nullopt;
  s.remove_prefix(std::string_view(kPrefix).size());
  s.remove_suffix(std::string_view(kSuffix).size());
  int64_t step = 0;
  auto [end, error] = std::from_chars(s.data(), s.data() + s.size(), step);
  if (error != std::errc() || end != s.data() + s.size() || step < 0) return std::nullopt;
  return step;
}

std::vector<std::pair<int64_t, std::string>> checkpoints_in(const std::string& run_dir) {
  std::vector<std::pair<int64_t, std::string>> found;
  std::error_code error;
  for (const auto& entry : std::filesystem::directory_iterator(run_dir, error)) {
    if (auto step = step_of(entry.path().filename().string()); step && entry.is_regular_file()) {
      found.emplace_back(*step, entry.path().string());
    }
  }
  std::sort(found.begin(), found.end());
  return found;
}

// FNV-1a over every tensor's name and bytes, in name order (the order of
// the bytes in the file is the writer's choice): safetensors has no
// checksum of its own, and a flipped bit in a weight must not load.
std::string values_checksum(const std::vector<NamedTensor>& values) {
  std::vector<const NamedTensor*> sorted;
  for (const NamedTensor& t : values) sorted.push_back(&t);
  std::sort(sorted.begin(), sorted.end(), [](const NamedTensor* a, const NamedTensor* b) { return a->name < b->name; });
  uint64_t h = kFnv1aOffset;
  for (const NamedTensor* t : sorted) {
    h = fnv1a(t->name, h);
    h = fnv1a(std::string_view("\0", 1), h);
    h = fnv1a(t->bytes, h);
  }
  return fmt::format("{:016x}", h);
}

std::string config_json(const std::vector<std::pair<std::string, std::string>>& config) {
  std::string out = "{";
  for (const auto& [k, v] : config)
    out += fmt::format("{}{}:{}", out.size() > 1 ? "," : "", json_quote(k), json_quote(v));
  return out + "}";
}

}  // namespace

std::string encode_checkpoint(const Checkpoint& c) {
  SafeTensors file;
  file.metadata = {{"format", kCheckpointFormat},
                   {"model", c.model},
                   {"config", config_json(c.config)},
                   {"step", std::to_string(c.step)},
                   {"seed", std::to_string(c.seed)},
                   {"data_position", fmt::format("batch {} of seed {}", c.step + 1, c.seed)},
                   {"compiler_version", c.compiler_version},
                   {"values_checksum", values_checksum(c.values)}};
  file.tensors = c.values;
  return encode_safetensors(file);
}

Checkpoint decode_checkpoint(std::string_view bytes, const std::string& origin) {
  SafeTensors file = decode_safetensors(bytes, origin);
  auto meta = [&](const char* key) -> const std::string& {
    auto it = file.metadata.find(key);
    if (it == file.metadata.end())
      throw Error(fmt::format("{}: not a Reforge checkpoint (no '{}' metadata)", origin, key));
    return it->second;
  };
  if (meta("format") != kCheckpointFormat) {
    throw Error(
        fmt::format("{}: checkpoint format '{}', this Reforge reads '{}'", origin, meta("format"), kCheckpointFormat));
  }
  Checkpoint c;
  c.model = meta("model");
  c.compiler_version = meta("compiler_version");
  auto number = [&](const char* key, auto& out) {
    const std::string& text = meta(key);
    auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), out);
    if (error != std::errc() || end != text.data() + text.size()) {
      throw Error(fmt::format("{}: metadata '{}' is not a number: '{}'", origin, key, text));
    }
  };
  number("step", c.step);
  number("seed", c.seed);
  if (c.step < 0) throw Error(fmt::format("{}: negative step {}", origin, c.step));
  JsonValue config = parse_json(meta("config"), origin + ": config metadata");
  if (!config.is(JsonValue::Kind::object)) throw Error(origin + ": config metadata is not an object");
  for (const auto& [k, v] : config.object()) {
    if (!v.is(JsonValue::Kind::string)) throw Error(fmt::format("{}: config field '{}' is not a string", origin, k));
    c.config.emplace_back(k, v.string());
  }
  c.values = std::move(file.tensors);
  if (values_checksum(c.values) != meta("values_checksum")) {
    throw Error(fmt::format("{}: the parameter values do not match their checksum (corrupt checkpoint)", origin));
  }
  return c;
}

std::string write_checkpoint(const std::string& run_dir, const Checkpoint& checkpoint, int keep) {
  std::string path = (std::filesystem::path(run_dir) / file_name(checkpoint.step)).string();
  write_file_durably(path, encode_checkpoint(checkpoint), "checkpoint");
  auto all = checkpoints_in(run_dir);
  for (size_t i = 0; keep > 0 && i + static_cast<size_t>(keep) < all.size(); ++i) {
    std::error_code ignored;
    std::filesystem::remove(all[i].second, ignored);
  }
  return path;
}

std::optional<std::string> latest_checkpoint(const std::string& run_dir) {
  auto all = checkpoints_in(run_dir);
  if (all.empty()) return std::nullopt;
  return all.back().second;
}

Checkpoint read_checkpoint(const std::string& path) {
  return decode_checkpoint(read_whole_file(path, "checkpoint", kMaxCheckpointBytes), path);
}

std::optional<std::string> first_config_difference(const std::vector<std::pair<std::string, std::string>>& wanted,
                                                   const std::vector<std::pair<std::string, std::string>>& found) {
  for (const auto& [k, v] : wanted) {
    auto it = std::find_if(found.begin(), found.end(), [&](const auto& kv) { return kv.first == k; });
    if (it == found.end()) return fmt::format("--{}: {} here, absent in the checkpoint", k, v);
    if (it->second != v) return fmt::format("--{}: {} here, {} in the checkpoint", k, v, it->second);
  }
  for (const auto& [k, v] : found) {
    auto it = std::find_if(wanted.begin(), wanted.end(), [&](const auto& kv) { return kv.first == k; });
    if (it == wanted.end()) return fmt::format("--{}: absent here, {} in the checkpoint", k, v);
  }
  return std::nullopt;
}

}  // namespace reforge::runtime
