// Node attributes: a small sorted map from name to int, float, string or
// int list. Sorted so the textual form is deterministic.
#pragma once

#include <cstdint>
#include <map>
#include <string>
#include <variant>
#include <vector>

namespace reforge {

using AttrValue = std::variant<int64_t, double, std::string, std::vector<int64_t>>;

enum class AttrKind { integer, real, string, int_list };
const char* attr_kind_name(AttrKind kind);
AttrKind attr_kind(const AttrValue& value);

class AttrMap {
 public:
  void set(const std::string& name, AttrValue value) { values_[name] = std::move(value); }
  bool has(const std::string& name) const { return values_.count(name) != 0; }

  // Typed getters throw reforge::Error naming the attribute when it is
  // missing or of another kind.
  int64_t get_int(const std::string& name) const;
  double get_float(const std::string& name) const;
  const std::string& get_string(const std::string& name) const;
  const std::vector<int64_t>& get_ints(const std::string& name) const;

  int64_t get_int_or(const std::string& name, int64_t fallback) const;

  const std::map<std::string, AttrValue>& entries() const { return values_; }
  bool operator==(const AttrMap&) const = default;

 private:
  const AttrValue& lookup(const std::string& name, AttrKind kind) const;
  std::map<std::string, AttrValue> values_;
};

}  // namespace reforge
