#include "runtime/safetensors.h"

#include <fmt/format.h>

#include <algorithm>
#include <cstring>

#include "base/error.h"
#include "base/json_reader.h"

namespace reforge::runtime {
namespace {

// The header is JSON; 100 MB is safetensors' own limit.
constexpr uint64_t kMaxHeaderBytes = 100'000'000;

const char* safetensors_dtype(DType d) {
  switch (d) {
    case DType::f32:
      return "F32";
    case DType::f64:
      return "F64";
    case DType::i32:
      return "I32";
    case DType::i64:
      return "I64";
    case DType::boolean:
      return "BOOL";
  }
  return "?";
}

bool parse_safetensors_dtype(const std::string& name, DType& out) {
  for (DType d : {DType::f32, DType::f64, DType::i32, DType::i64, DType::boolean}) {
    if (name == safetensors_dtype(d)) {
      out = d;
      return true;
    }
  }
  return false;
}

}  // namespace

const NamedTensor* SafeTensors::find(std::string_view name) const {
  for (const NamedTensor& t : tensors) {
    if (t.name == name) return &t;
  }
  return nullptr;
}

std::string encode_safetensors(const SafeTensors& file) {
  std::string header = "{";
  if (!file.metadata.empty()) {
    header += "\"__metadata__\":{";
    bool first = true;
    for (const auto& [k, v] : file.metadata) {
      header += fmt::format("{}{}:{}", first ? "" : ",", json_quote(k), json_quote(v));
      first = false;
    }
    header += "}";
  }
  int64_t offset = 0;
  for (const NamedTensor& t : file.tensors) {
    if (static_cast<int64_t>(t.bytes.size()) != t.type.bytes()) {
      throw Error(fmt::format("tensor '{}' has {} bytes for {}", t.name, t.bytes.size(), type_to_string(t.type)));
    }
    std::string shape;
    for (int64_t d : t.type.shape) shape += fmt::format("{}{}", shape.empty() ? "" : ",", d);
    header +=
        fmt::format("{}{}:{{\"dtype\":\"{}\",\"shape\":[{}],\"data_offsets\":[{},{}]}}", header.size() > 1 ? "," : "",
                    json_quote(t.name), safetensors_dtype(t.type.dtype), shape, offset, offset + t.type.bytes());
    offset += t.type.bytes();
  }
  header += "}";
  header.resize((header.size() + 7) / 8 * 8, ' ');  // the data starts 8-byte aligned
  std::string out(8, '\0');
  uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  out += header;
  for (const NamedTensor& t : file.tensors) out += t.bytes;
  return out;
}

SafeTensors decode_safetensors(std::string_view bytes, const std::string& origin) {
  auto fail = [&](const std::string& what) -> void {
    throw Error(fmt::format("{}: not a valid safetensors file: {}", origin, what));
  };
  if (bytes.size() < 8) fail(fmt::format("{} bytes, shorter than the 8-byte header length", bytes.size()));
  uint64_t header_bytes;
  std::memcpy(&header_bytes, bytes.data(), 8);
  if (header_bytes > kMaxHeaderBytes || header_bytes > bytes.size() - 8) {
    fail(fmt::format("the header says it has {} bytes but the file has {} after the length", header_bytes,
                     bytes.size() - 8));
  }
  JsonValue header = parse_json(bytes.substr(8, header_bytes), origin + ": header");
  if (!header.is(JsonValue::Kind::object)) fail("the header is not a JSON object");
  std::string_view data = bytes.substr(8 + header_bytes);

  SafeTensors out;
  struct Range {
    int64_t begin, end;
    size_t tensor;
  };
  std::vector<Range> ranges;
  for (const auto& [name, entry] : header.object()) {
    if (name == "__metadata__") {
      if (!entry.is(JsonValue::Kind::object)) fail("__metadata__ is not an object");
      for (const auto& [k, v] : entry.object()) {
        if (!v.is(JsonValue::Kind::string)) fail(fmt::format("metadata '{}' is not a string", k));
        out.metadata[k] = v.string();
      }
      continue;
    }
    const JsonValue* dtype = entry.find("dtype");
    const JsonValue* shape = entry.find("shape");
    const JsonValue* offsets = entry.find("data_offsets");
    if (!entry.is(JsonValue::Kind::object) || !dtype || !shape || !offsets || !dtype->is(JsonValue::Kind::string) ||
        !shape->is(JsonValue::Kind::array) || !offsets->is(JsonValue::Kind::array) || offsets->array().size() != 2) {
      fail(fmt::format("tensor '{}' needs a dtype, a shape and two data_offsets", name));
    }
    NamedTensor t;
    t.name = name;
    if (!parse_safetensors_dtype(dtype->string(), t.type.dtype)) {
      fail(fmt::format("tensor '{}' has dtype {}, which Reforge does not use", name, dtype->string()));
    }
    int64_t elements = 1;
    for (const JsonValue& d : shape->array()) {
      int64_t n;
      if (!d.integer(n) || n < 0) fail(fmt::format("tensor '{}' has a bad dimension", name));
      if (n > 0 && elements > (int64_t{1} << 44) / n) fail(fmt::format("tensor '{}' is impossibly large", name));
      elements *= n;
      t.type.shape.push_back(n);
    }
    int64_t begin, end;
    if (!offsets->array()[0].integer(begin) || !offsets->array()[1].integer(end) || begin < 0 || end < begin ||
        end > static_cast<int64_t>(data.size())) {
      fail(fmt::format("tensor '{}' has data_offsets outside the file's {} data bytes", name, data.size()));
    }
    if (end - begin != t.type.bytes()) {
      fail(fmt::format("tensor '{}' is {} ({} bytes) but its data_offsets span {}", name, type_to_string(t.type),
                       t.type.bytes(), end - begin));
    }
    ranges.push_back({begin, end, out.tensors.size()});
    out.tensors.push_back(std::move(t));
  }
  // The byte ranges tile the data exactly: no gaps, no overlaps.
  std::sort(ranges.begin(), ranges.end(), [](const Range& a, const Range& b) { return a.begin < b.begin; });
  int64_t covered = 0;
  for (const Range& r : ranges) {
    if (r.begin != covered)
      fail(fmt::format("tensor '{}' does not start where the one before ends", out.tensors[r.tensor].name));
    covered = r.end;
    out.tensors[r.tensor].bytes = std::string(data.substr(r.begin, r.end - r.begin));
  }
  if (covered != static_cast<int64_t>(data.size())) {
    fail(fmt::format("{} bytes after the last tensor (truncated or appended to?)",
                     static_cast<int64_t>(data.size()) - covered));
  }
  // In the order of their bytes.
  std::vector<NamedTensor> ordered;
  for (const Range& r : ranges) ordered.push_back(std::move(out.tensors[r.tensor]));
  out.tensors = std::move(ordered);
  return out;
}

}  // namespace reforge::runtime
