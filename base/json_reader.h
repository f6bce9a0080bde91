// A small JSON reader for the files Reforge reads back (the header of a
// safetensors checkpoint). Strict (RFC 8259), bounded: nesting deeper than
// 64 levels and numbers that do not fit are errors, never a crash.
#pragma once

#include <cstdint>
#include <map>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

namespace reforge {

class JsonValue {
 public:
  enum class Kind { null, boolean, number, string, array, object };

  Kind kind() const { return kind_; }
  bool is(Kind k) const { return kind_ == k; }
  bool boolean() const { return boolean_; }
  double number() const { return number_; }
  // The number as an exact integer; false when it is not one (or too big).
  bool integer(int64_t& out) const;
  const std::string& string() const { return string_; }
  const std::vector<JsonValue>& array() const { return array_; }
  // Object members in the order they appear (duplicates are an error).
  const std::vector<std::pair<std::string, JsonValue>>& object() const { return object_; }
  const JsonValue* find(std::string_view key) const;

 private:
  friend class JsonParser;
  Kind kind_ = Kind::null;
  bool boolean_ = false;
  double number_ = 0;
  bool integral_ = false;
  int64_t integer_ = 0;
  std::string string_;
  std::vector<JsonValue> array_;
  std::vector<std::pair<std::string, JsonValue>> object_;
};

// Throws reforge::Error "<what>: invalid JSON at byte N: ..." on bad input.
JsonValue parse_json(std::string_view text, const std::string& what);

// `text` as a JSON string literal, quotes included.
std::string json_quote(std::string_view text);

}  // namespace reforge
