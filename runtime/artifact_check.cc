// check_artifact: what an artifact's parts must agree on before anything
// runs (artifact.h). Decoding calls it on every file, and the runtime on
// an in-memory artifact from the JIT.
#include <fmt/format.h>

#include <map>
#include <set>

#include "base/error.h"
#include "runtime/artifact.h"
#include "runtime/library.h"
#include "runtime/library_calls.h"
#include "runtime/program_runner.h"

namespace reforge::runtime {
namespace {

void check_buffer(const Program& p, const BufferRef& b, const std::string& what, const std::string& context) {
  int64_t size = 0;
  std::string space;
  if (b.slot == -1) {
    size = p.arena_bytes;
    space = "the arena";
  } else if (b.slot >= 0 && b.slot < static_cast<int>(p.slots.size())) {
    size = p.slots[b.slot].type.bytes();
    space = "slot '" + p.slots[b.slot].name + "'";
  } else {
    throw Error(fmt::format("{}: {} names slot {}, but there are {}", context, what, b.slot, p.slots.size()));
  }
  if (b.offset < 0 || b.bytes < 0 || b.offset > size || b.bytes > size - b.offset) {
    throw Error(
        fmt::format("{}: {} [{}, +{}) lies outside {} of {} bytes", context, what, b.offset, b.bytes, space, size));
  }
}

void check_entry(const EntryPoint& e, LibraryDevice device, const std::string& origin) {
  const std::string context = fmt::format("{}: entry point '{}'", origin, e.name);
  const Program& p = e.program;
  std::map<std::string, const Slot*> slots;
  for (const Slot& s : p.slots) {
    if (!slots.emplace(s.name, &s).second) throw Error(fmt::format("{}: slot '{}' appears twice", context, s.name));
  }
  for (const Launch& l : p.launches) {
    std::string what = fmt::format("launch of '{}' ({})", l.node, l.function);
    if (l.function.empty()) throw Error(fmt::format("{}: {} names no function", context, what));
    if (l.kind == Launch::Kind::library && !find_library_function(l.function)) {
      throw Error(fmt::format("{}: {} calls a library function this runtime does not have", context, what));
    }
    for (const BufferRef& b : l.buffers) check_buffer(p, b, what, context);
    if (l.kind == Launch::Kind::library) {
      try {
        validate_library_launch(l, device);
      } catch (const Error& e) {
        throw Error(fmt::format("{}: {}", context, e.what()));
      }
    }
  }
  std::map<std::string, const ProgramOutput*> outputs;
  for (const ProgramOutput& o : p.outputs) {
    check_buffer(p, o.where, "output '" + o.name + "'", context);
    if (o.where.bytes != o.type.bytes()) {
      throw Error(fmt::format("{}: output '{}' is {} ({} bytes) but its buffer holds {}", context, o.name,
                              type_to_string(o.type), o.type.bytes(), o.where.bytes));
    }
    if (!outputs.emplace(o.name, &o).second) throw Error(fmt::format("{}: output '{}' appears twice", context, o.name));
  }
  for (const CarriedSlot& c : e.carried) {
    auto out = outputs.find(c.next);
    auto slot = slots.find(c.slot);
    if (out == outputs.end() || slot == slots.end() || out->second->type != slot->second->type) {
      throw Error(fmt::format("{}: carried value '{}' -> '{}' does not join an output to a slot of the same type",
                              context, c.next, c.slot));
    }
  }
  if (!e.carried_rows.empty()) {
    auto position = slots.find("position");
    if (position == slots.end() || position->second->type != TensorType{DType::i64, {}}) {
      throw Error(fmt::format("{}: carries rows but has no i64 scalar input 'position' to place them", context));
    }
  }
  for (const CarriedSlot& c : e.carried_rows) {
    auto out = outputs.find(c.next);
    auto slot = slots.find(c.slot);
    if (out == outputs.end() || slot == slots.end()) {
      throw Error(
          fmt::format("{}: carried row '{}' -> '{}' does not join an output to a slot", context, c.next, c.slot));
    }
    try {
      row_copy(c.next, out->second->type, *slot->second, 0);
    } catch (const Error& error) {
      throw Error(fmt::format("{}: {}", context, error.what()));
    }
  }
}

// Every kernel a CUDA artifact launches is in its GPU code, once.
void check_cuda_kernels(const Artifact& a, const std::string& origin) {
  std::set<std::string> kernels;
  for (const CudaKernel& k : a.cuda.kernels) {
    if (!kernels.insert(k.name).second) {
      throw Error(fmt::format("{}: GPU kernel '{}' appears twice in the CUDA code", origin, k.name));
    }
  }
  for (const EntryPoint& e : a.entries) {
    for (const Launch& l : e.program.launches) {
      for (const std::string& kernel : {l.kind == Launch::Kind::kernel ? l.function : std::string(), l.epilogue}) {
        if (!kernel.empty() && !kernels.count(kernel)) {
          throw Error(fmt::format("{}: entry point '{}' launches kernel '{}', which the CUDA code does not have",
                                  origin, e.name, kernel));
        }
      }
    }
  }
}

}  // namespace

void check_artifact(const Artifact& a, const std::string& origin) {
  if (!a.entry("train_step")) throw Error(origin + ": the artifact has no 'train_step' entry point");
  std::set<std::string> names;
  for (const EntryPoint& e : a.entries) {
    if (!names.insert(e.name).second) throw Error(fmt::format("{}: entry point '{}' appears twice", origin, e.name));
    check_entry(e, a.for_cuda() ? LibraryDevice::cuda : LibraryDevice::cpu, origin);
  }
  std::set<std::string> persistent;
  for (const PersistentInit& p : a.persistent) {
    if (!persistent.insert(p.name).second)
      throw Error(fmt::format("{}: persistent value '{}' appears twice", origin, p.name));
    for (const EntryPoint& e : a.entries) {
      for (const Slot& s : e.program.slots) {
        if (s.name == p.name && s.type != p.type) {
          throw Error(fmt::format("{}: '{}' is {} in the parameter table but {} in entry point '{}'", origin, p.name,
                                  type_to_string(p.type), type_to_string(s.type), e.name));
        }
      }
    }
  }
  if (a.for_cuda()) check_cuda_kernels(a, origin);
}

}  // namespace reforge::runtime
