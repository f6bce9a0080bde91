#include "compiler/ir/attributes.h"

#include "base/error.h"

namespace reforge {

const char* attr_kind_name(AttrKind kind) {
  switch (kind) {
    case AttrKind::integer:
      return "int";
    case AttrKind::real:
      return "float";
    case AttrKind::string:
      return "string";
    case AttrKind::int_list:
      return "int list";
  }
  return "?";
}

AttrKind attr_kind(const AttrValue& value) { return static_cast<AttrKind>(value.index()); }

const AttrValue& AttrMap::lookup(const std::string& name, AttrKind kind) const {
  auto it = values_.find(name);
  if (it == values_.end()) throw Error("missing attribute '" + name + "'");
  if (attr_kind(it->second) != kind) {
    throw Error("attribute '" + name + "' must be " + attr_kind_name(kind) + ", got " +
                attr_kind_name(attr_kind(it->second)));
  }
  return it->second;
}

int64_t AttrMap::get_int(const std::string& name) const { return std::get<int64_t>(lookup(name, AttrKind::integer)); }
double AttrMap::get_float(const std::string& name) const { return std::get<double>(lookup(name, AttrKind::real)); }
const std::string& AttrMap::get_string(const std::string& name) const {
  return std::get<std::string>(lookup(name, AttrKind::string));
}
const std::vector<int64_t>& AttrMap::get_ints(const std::string& name) const {
  return std::get<std::vector<int64_t>>(lookup(name, AttrKind::int_list));
}
int64_t AttrMap::get_int_or(const std::string& name, int64_t fallback) const {
  return has(name) ? get_int(name) : fallback;
}

}  // namespace reforge
