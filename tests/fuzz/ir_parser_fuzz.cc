// Fuzz target: the IR text parser and the verifier on arbitrary bytes.
// Anything may be rejected with reforge::Error; nothing may crash, hang,
// or throw anything else. What parses must print and parse back to the
// same text.
#include <cstddef>
#include <cstdint>
#include <string_view>

#include "compiler/ir/parser.h"
#include "compiler/ir/printer.h"
#include "compiler/ir/verifier.h"

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view text(reinterpret_cast<const char*>(data), size);
  try {
    std::unique_ptr<reforge::Graph> graph = reforge::parse_graph(text);
    (void)reforge::find_problem(*graph);
    std::string printed = reforge::print_graph(*graph);
    std::unique_ptr<reforge::Graph> again = reforge::parse_graph(printed);
    if (reforge::print_graph(*again) != printed) __builtin_trap();  // the text form must round-trip
  } catch (const reforge::Error&) {
  }
  return 0;
}
