// The textual form of the IR. One node per line:
//
//   %layer1.ffn.matmul = matmul(%x, %layer1.ffn.w) : f32[4,8] @"models/mlp.cc":31
//   %y = slice(%x) {axis=1, end=4, start=0} : f32[4,4]
//   %ffn = chunked_map(%h, %w) {axis=1, chunks=4, sliced=1} : f32[2,16,8] regions {
//     graph body { ... }
//   }
//   return loss=%loss, w.next=%w.next
//
// parse_graph (parser.h) reads it back; print(parse(text)) == text exactly.
#pragma once

#include <string>

#include "compiler/ir/graph.h"

namespace reforge {

struct PrintOptions {
  bool locations = true;  // print "@file:line" after each node
};

std::string print_graph(const Graph& graph, const PrintOptions& options = {});

// Formats an attribute value as the printer writes it (floats always carry a
// '.', an exponent, inf or nan, so they parse back as floats).
std::string format_attr_value(const AttrValue& value);

}  // namespace reforge
