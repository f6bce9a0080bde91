#include "compiler/pipeline/entry_values.h"

#include <fmt/format.h>

#include <cstddef>

namespace reforge {

void set_inputs(runtime::Entry& entry, const ValueMap& values) {
  std::vector<std::byte> bytes;
  for (const runtime::Slot& input : entry.inputs()) {
    auto it = values.find(input.name);
    if (it == values.end()) throw Error(fmt::format("no value given for input '{}' of '{}'", input.name, entry.name()));
    if (it->second.type != input.type) {
      throw Error(fmt::format("input '{}' of '{}' is {}, the value given is {}", input.name, entry.name(),
                              type_to_string(input.type), type_to_string(it->second.type)));
    }
    bytes.resize(input.type.bytes());
    write_elements(it->second, bytes.data());
    entry.set_input(input.name, bytes.data(), bytes.size());
  }
}

ValueMap read_outputs(const runtime::Entry& entry, const std::vector<runtime::ProgramOutput>& outputs) {
  ValueMap out;
  for (const runtime::ProgramOutput& o : outputs) out[o.name] = read_elements(o.type, entry.output(o.name).data());
  return out;
}

}  // namespace reforge
