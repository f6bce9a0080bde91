#include "runtime/artifact.h"

#include <fmt/format.h>

#include <algorithm>
#include <bit>
#include <cstring>
#include <limits>

#include "base/durable_file.h"
#include "base/error.h"
#include "base/fnv1a.h"

namespace reforge::runtime {

static_assert(std::endian::native == std::endian::little, "artifacts are little-endian; so is every target");

namespace {

constexpr char kMagic[8] = {'R', 'E', 'F', 'O', 'R', 'G', 'E', 'A'};
constexpr int64_t kHeaderBytes = 8 + 4 + 4 + 8 + 8;  // magic, version, sections, file size, table checksum
constexpr int64_t kSectionEntryBytes = 4 + 4 + 8 + 8 + 8;
constexpr int64_t kMaxSections = 64;
constexpr int64_t kMaxRank = 16;
// No single value of a model this machine could run is bigger; a larger
// size is corruption, refused before anything is allocated.
constexpr int64_t kMaxTensorBytes = int64_t{1} << 44;
constexpr int64_t kMaxFileBytes = int64_t{4} << 30;

enum class SectionKind : uint32_t {
  manifest = 1,
  persistent = 2,
  entry_point = 3,
  memory_plan = 4,
  code = 5,
  cuda_code = 6,
};

const char* section_name(uint32_t kind) {
  switch (static_cast<SectionKind>(kind)) {
    case SectionKind::manifest:
      return "manifest";
    case SectionKind::persistent:
      return "persistent";
    case SectionKind::entry_point:
      return "entry point";
    case SectionKind::memory_plan:
      return "memory plan";
    case SectionKind::code:
      return "code";
    case SectionKind::cuda_code:
      return "CUDA code";
  }
  return "unknown";
}

uint64_t checksum(std::string_view bytes) { return fnv1a(bytes); }

// ---- writing ---------------------------------------------------------------

class ByteWriter {
 public:
  template <typename T>
  void scalar(T value) {
    char raw[sizeof(T)];
    std::memcpy(raw, &value, sizeof(T));
    out_.append(raw, sizeof(T));
  }
  void u8(uint8_t v) { scalar(v); }
  void u32(uint32_t v) { scalar(v); }
  void i32(int32_t v) { scalar(v); }
  void i64(int64_t v) { scalar(v); }
  void f64(double v) { scalar(v); }
  void count(size_t n) { u32(static_cast<uint32_t>(n)); }
  void string(std::string_view s) {
    count(s.size());
    out_.append(s);
  }
  void type(const TensorType& t) {
    u8(static_cast<uint8_t>(t.dtype));
    count(t.shape.size());
    for (int64_t d : t.shape) i64(d);
  }
  void key_values(const KeyValues& kv) {
    count(kv.size());
    for (const auto& [k, v] : kv) {
      string(k);
      string(v);
    }
  }
  void buffer(const BufferRef& b) {
    i32(b.slot);
    i64(b.offset);
    i64(b.bytes);
  }
  std::string take() { return std::move(out_); }

 private:
  std::string out_;
};

// ---- reading ---------------------------------------------------------------

// Reads one section; every read is bounds-checked, and a count is checked
// against the bytes left before anything is reserved for it.
class ByteReader {
 public:
  ByteReader(std::string_view bytes, std::string context) : bytes_(bytes), context_(std::move(context)) {}

  [[noreturn]] void fail(const std::string& what) const {
    throw Error(fmt::format("{}: {} (at byte {} of {})", context_, what, position_, bytes_.size()));
  }
  template <typename T>
  T scalar(const char* what) {
    if (bytes_.size() - position_ < sizeof(T)) fail(fmt::format("{} runs past the end of the section", what));
    T value;
    std::memcpy(&value, bytes_.data() + position_, sizeof(T));
    position_ += sizeof(T);
    return value;
  }
  uint8_t u8(const char* what) { return scalar<uint8_t>(what); }
  int32_t i32(const char* what) { return scalar<int32_t>(what); }
  int64_t i64(const char* what) { return scalar<int64_t>(what); }
  double f64(const char* what) { return scalar<double>(what); }
  // A count of items each at least `min_item_bytes` long.
  size_t count(const char* what, size_t min_item_bytes) {
    uint32_t n = scalar<uint32_t>(what);
    if (static_cast<uint64_t>(n) * min_item_bytes > bytes_.size() - position_) {
      fail(fmt::format("{} says {} items, more than the section holds", what, n));
    }
    return n;
  }
  std::string string(const char* what) {
    size_t n = count(what, 1);
    std::string s(bytes_.substr(position_, n));
    position_ += n;
    return s;
  }
  int64_t non_negative(const char* what) {
    int64_t v = i64(what);
    if (v < 0) fail(fmt::format("{} is negative ({})", what, v));
    return v;
  }
  TensorType type(const char* what) {
    TensorType t;
    uint8_t dtype = u8(what);
    if (dtype > static_cast<uint8_t>(DType::boolean))
      fail(fmt::format("{} has an unknown element type {}", what, dtype));
    t.dtype = static_cast<DType>(dtype);
    size_t rank = count(what, 8);
    if (static_cast<int64_t>(rank) > kMaxRank) fail(fmt::format("{} has rank {}", what, rank));
    int64_t bytes = dtype_bytes(t.dtype);
    for (size_t i = 0; i < rank; ++i) {
      int64_t d = non_negative(what);
      if (d > 0 && bytes > kMaxTensorBytes / d) fail(fmt::format("{} is larger than any machine holds", what));
      bytes *= d;
      t.shape.push_back(d);
    }
    return t;
  }
  KeyValues key_values(const char* what) {
    KeyValues kv(count(what, 8));
    for (auto& [k, v] : kv) {
      k = string(what);
      v = string(what);
    }
    return kv;
  }
  BufferRef buffer(const char* what) {
    BufferRef b;
    b.slot = i32(what);
    b.offset = i64(what);
    b.bytes = i64(what);
    return b;
  }
  void finish() const {
    if (position_ != bytes_.size())
      fail(fmt::format("{} bytes left over after the last field", bytes_.size() - position_));
  }

 private:
  std::string_view bytes_;
  size_t position_ = 0;
  std::string context_;
};

// ---- the sections' fields ------------------------------------------------------

// Each section's fields are listed once, in a template over how they are
// visited: SectionWriter appends them, SectionReader reads them with every
// check (ranges, enum values, counts against the bytes left). The two
// cannot drift apart: the bytes are the same by construction.

class SectionWriter {
 public:
  explicit SectionWriter(ByteWriter& w) : w_(w) {}
  void string(const char*, const std::string& s) { w_.string(s); }
  void key_values(const char*, const KeyValues& kv) { w_.key_values(kv); }
  void i32(const char*, int32_t v) { w_.i32(v); }
  void i64(const char*, int64_t v) { w_.i64(v); }
  void non_negative(const char*, int64_t v) { w_.i64(v); }
  void f64(const char*, double v) { w_.f64(v); }
  void flag(const char*, bool b) { w_.u8(b ? 1 : 0); }
  template <typename E>
  void enumeration(const char*, E e, E /*last*/) {
    w_.u8(static_cast<uint8_t>(e));
  }
  void type(const char*, const TensorType& t) { w_.type(t); }
  void buffer(const char*, const BufferRef& b) { w_.buffer(b); }
  template <typename V, typename Each>
  void list(const char*, size_t /*min_item_bytes*/, const V& items, Each each) {
    w_.count(items.size());
    for (const auto& item : items) each(item);
  }
  void check(bool, const char*) {}

 private:
  ByteWriter& w_;
};

class SectionReader {
 public:
  explicit SectionReader(ByteReader& r) : r_(r) {}
  void string(const char* what, std::string& s) { s = r_.string(what); }
  void key_values(const char* what, KeyValues& kv) { kv = r_.key_values(what); }
  void i32(const char* what, int32_t& v) { v = r_.i32(what); }
  void i64(const char* what, int64_t& v) { v = r_.i64(what); }
  void non_negative(const char* what, int64_t& v) { v = r_.non_negative(what); }
  void f64(const char* what, double& v) { v = r_.f64(what); }
  void flag(const char* what, bool& b) { b = r_.u8(what) != 0; }
  // One byte, at most `last`'s value.
  template <typename E>
  void enumeration(const char* what, E& e, E last) {
    const uint8_t v = r_.u8(what);
    if (v > static_cast<uint8_t>(last)) r_.fail(fmt::format("{} {} is unknown", what, v));
    e = static_cast<E>(v);
  }
  void type(const char* what, TensorType& t) { t = r_.type(what); }
  void buffer(const char* what, BufferRef& b) { b = r_.buffer(what); }
  // A count (checked against the bytes left, each item at least
  // `min_item_bytes` long), then the items.
  template <typename V, typename Each>
  void list(const char* what, size_t min_item_bytes, V& items, Each each) {
    items.resize(r_.count(what, min_item_bytes));
    for (auto& item : items) each(item);
  }
  void check(bool ok, const char* what) {
    if (!ok) r_.fail(what);
  }

 private:
  ByteReader& r_;
};

template <typename Io, typename M>
void manifest_fields(Io& io, M& m) {
  io.string("compiler version", m.compiler_version);
  io.string("model name", m.model);
  io.key_values("config", m.config);
  io.key_values("compile options", m.compile_options);
  io.string("target triple", m.triple);
  io.string("cpu", m.cpu);
  io.string("cpu features", m.cpu_features);
  io.list("required features", 4, m.required_features, [&](auto& f) { io.string("required feature", f); });
  io.i32("optimisation level", m.opt_level);
}

template <typename Io, typename V>
void persistent_fields(Io& io, V& values) {
  io.list("persistent values", 4 + 5 + 2 + 8, values, [&](auto& p) {
    io.string("persistent value name", p.name);
    io.type("persistent value type", p.type);
    io.flag("parameter flag", p.parameter);
    io.enumeration("initialiser", p.init, InitKind::constant);
    io.f64("initialiser scale", p.scale);
  });
}

template <typename Io, typename E>
void entry_fields(Io& io, E& e, uint32_t version) {
  io.string("entry point name", e.name);
  auto& p = e.program;
  io.non_negative("arena size", p.arena_bytes);
  io.list("slots", 4 + 5 + 1, p.slots, [&](auto& s) {
    io.string("slot name", s.name);
    io.type("slot type", s.type);
    io.enumeration("slot role", s.role, SlotRole::computed);
  });
  io.list("launches", 1 + 4 * 8 + 8 * 4 + 4 + 1, p.launches, [&](auto& l) {
    io.enumeration("launch kind", l.kind, Launch::Kind::library);
    io.string("launch function", l.function);
    io.string("launch epilogue", l.epilogue);
    io.check(l.epilogue.empty() || l.kind == Launch::Kind::library, "a kernel launch has an epilogue");
    io.list("launch buffers", 20, l.buffers, [&](auto& b) { io.buffer("launch buffer", b); });
    io.list("launch integers", 8, l.ints, [&](auto& v) { io.i64("launch integer", v); });
    io.list("launch reals", 8, l.reals, [&](auto& v) { io.f64("launch real", v); });
    io.non_negative("launch extent", l.extent);
    io.non_negative("launch work", l.work);
    io.string("launch node", l.node);
    io.string("launch op", l.op);
    io.string("launch source", l.source);
    io.non_negative("launch flops", l.flops);
    io.i32("launch output", l.output);
    io.check(l.output >= -1 && l.output < static_cast<int>(l.buffers.size()),
             "a launch's output is not one of its buffers");
    io.enumeration("launch output type", l.output_dtype, DType::boolean);
  });
  io.list("outputs", 4 + 5 + 20, p.outputs, [&](auto& o) {
    io.string("output name", o.name);
    io.type("output type", o.type);
    io.buffer("output buffer", o.where);
  });
  io.list("carried values", 8, e.carried, [&](auto& c) {
    io.string("carried output", c.next);
    io.string("carried slot", c.slot);
  });
  if (version >= 4) {
    io.list("carried rows", 8, e.carried_rows, [&](auto& c) {
      io.string("carried row output", c.next);
      io.string("carried row slot", c.slot);
    });
  }
}

template <typename Io, typename C>
void cuda_code_fields(Io& io, C& c) {
  io.i32("GPU architecture", c.sm);
  io.check(c.sm >= 50 && c.sm < 1000, "the GPU architecture is not an sm_NN number");
  io.string("cubin", c.cubin);
  io.string("PTX", c.ptx);
  io.list("GPU kernels", 4 + 8 + 4 + 4, c.kernels, [&](auto& k) {
    io.string("GPU kernel name", k.name);
    io.i64("threads per iteration", k.threads_per_iteration);
    io.check(k.threads_per_iteration >= 1, "a GPU kernel has fewer than one thread per iteration");
    io.i32("threads per block", k.block_threads);
    io.check(k.block_threads >= 1 && k.block_threads <= 1024, "a GPU kernel's blocks are not 1 to 1024 threads");
    io.i32("registers", k.registers);
  });
}

template <typename T, typename Fields>
std::string encode_section(const T& value, Fields fields) {
  ByteWriter w;
  SectionWriter io(w);
  fields(io, value);
  return w.take();
}

template <typename T, typename Fields>
T decode_section(ByteReader r, Fields fields) {
  T value;
  SectionReader io(r);
  fields(io, value);
  r.finish();
  return value;
}

std::string encode_manifest(const Manifest& m) {
  return encode_section(m, [](auto& io, auto& v) { manifest_fields(io, v); });
}
std::string encode_persistent(const std::vector<PersistentInit>& values) {
  return encode_section(values, [](auto& io, auto& v) { persistent_fields(io, v); });
}
std::string encode_entry(const EntryPoint& e) {
  return encode_section(e, [](auto& io, auto& v) { entry_fields(io, v, kArtifactFormatVersion); });
}
Manifest decode_manifest(ByteReader r) {
  return decode_section<Manifest>(std::move(r), [](auto& io, auto& v) { manifest_fields(io, v); });
}
std::vector<PersistentInit> decode_persistent(ByteReader r) {
  return decode_section<std::vector<PersistentInit>>(std::move(r), [](auto& io, auto& v) { persistent_fields(io, v); });
}
std::string encode_cuda_code(const CudaCode& c) {
  return encode_section(c, [](auto& io, auto& v) { cuda_code_fields(io, v); });
}
CudaCode decode_cuda_code(ByteReader r) {
  return decode_section<CudaCode>(std::move(r), [](auto& io, auto& v) { cuda_code_fields(io, v); });
}
EntryPoint decode_entry(ByteReader r, uint32_t version) {
  return decode_section<EntryPoint>(std::move(r), [&](auto& io, auto& v) { entry_fields(io, v, version); });
}

}  // namespace

void carry_decode_updates(ProgramRunner& runner, const std::vector<CarriedSlot>& carried,
                          const std::vector<CarriedSlot>& carried_rows, int64_t position) {
  for (const CarriedSlot& c : carried) {
    if (int slot = runner.find_slot(c.slot); slot >= 0) runner.copy_output_to_slot(c.next, slot);
  }
  for (const CarriedSlot& c : carried_rows) {
    if (int slot = runner.find_slot(c.slot); slot >= 0) runner.copy_output_to_slot_row(c.next, slot, position);
  }
}

bool is_generation_entry(const EntryPoint& e) { return e.name.rfind("decode", 0) == 0; }

int64_t bytes_to_run(const Artifact& a) {
  int64_t total = 0;
  auto add = [&](int64_t bytes) { total = bytes > INT64_MAX - total ? INT64_MAX : total + bytes; };
  if (a.for_cuda()) {
    for (const EntryPoint& e : a.entries) {
      add(e.program.arena_bytes);
      for (const Slot& s : e.program.slots) add(s.type.bytes());
    }
    return total;
  }
  for (const PersistentInit& p : a.persistent) add(p.type.bytes());
  // One arena serves the training step and the forward pass; generation's
  // entry points share it where they fit and take their own where not.
  int64_t arena = 0;
  for (const EntryPoint& e : a.entries) {
    if (!is_generation_entry(e)) arena = std::max(arena, e.program.arena_bytes);
    for (const Slot& s : e.program.slots) add(s.type.bytes());
  }
  add(arena);
  for (const EntryPoint& e : a.entries) {
    if (is_generation_entry(e) && e.program.arena_bytes > arena) add(e.program.arena_bytes);
  }
  return total;
}

std::string Artifact::target() const { return for_cuda() ? fmt::format("cuda sm_{}", cuda.sm) : "cpu"; }

const EntryPoint* Artifact::entry(std::string_view name) const {
  for (const EntryPoint& e : entries) {
    if (e.name == name) return &e;
  }
  return nullptr;
}

std::string encode_artifact(const Artifact& a) {
  std::vector<std::pair<SectionKind, std::string>> sections;
  sections.emplace_back(SectionKind::manifest, encode_manifest(a.manifest));
  sections.emplace_back(SectionKind::persistent, encode_persistent(a.persistent));
  for (const EntryPoint& e : a.entries) sections.emplace_back(SectionKind::entry_point, encode_entry(e));
  sections.emplace_back(SectionKind::memory_plan, a.memory_plan_json);
  if (a.for_cuda()) {
    sections.emplace_back(SectionKind::cuda_code, encode_cuda_code(a.cuda));
  } else {
    sections.emplace_back(SectionKind::code, a.code);
  }

  // Sections start on 64-byte boundaries (the code section can be mapped).
  auto align = [](int64_t n) { return (n + 63) / 64 * 64; };
  int64_t offset = align(kHeaderBytes + kSectionEntryBytes * static_cast<int64_t>(sections.size()));
  ByteWriter table;
  for (const auto& [kind, bytes] : sections) {
    table.u32(static_cast<uint32_t>(kind));
    table.u32(0);
    table.i64(offset);
    table.i64(static_cast<int64_t>(bytes.size()));
    table.scalar<uint64_t>(checksum(bytes));
    offset = align(offset + static_cast<int64_t>(bytes.size()));
  }
  std::string table_bytes = table.take();
  ByteWriter header;
  std::string out(kMagic, sizeof(kMagic));
  header.u32(kArtifactFormatVersion);
  header.count(sections.size());
  header.i64(offset);
  std::string fixed = header.take();
  ByteWriter sum;
  sum.scalar<uint64_t>(checksum(std::string(kMagic, sizeof(kMagic)) + fixed + table_bytes));
  out += fixed + sum.take() + table_bytes;
  for (const auto& [kind, bytes] : sections) {
    out.resize(align(static_cast<int64_t>(out.size())), '\0');
    out += bytes;
  }
  out.resize(offset, '\0');
  return out;
}

Artifact decode_artifact(std::string_view bytes, const std::string& origin) {
  auto fail = [&](const std::string& what) {
    throw Error(fmt::format("{}: not a valid Reforge artifact: {}", origin, what));
  };
  if (bytes.size() < static_cast<size_t>(kHeaderBytes))
    fail(fmt::format("only {} bytes, shorter than the header", bytes.size()));
  if (std::memcmp(bytes.data(), kMagic, sizeof(kMagic)) != 0) fail("wrong magic bytes (is it an .rfa file?)");
  ByteReader header(bytes.substr(8, kHeaderBytes - 8), origin + ": header");
  uint32_t version = header.scalar<uint32_t>("format version");
  if (version < 2 || version > kArtifactFormatVersion) {
    fail(fmt::format("format version {}, but this runtime reads version {} (recompile it with this Reforge)", version,
                     kArtifactFormatVersion));
  }
  uint32_t section_count = header.scalar<uint32_t>("section count");
  int64_t file_size = header.i64("file size");
  uint64_t table_sum = header.scalar<uint64_t>("table checksum");
  if (section_count == 0 || section_count > kMaxSections) fail(fmt::format("{} sections", section_count));
  if (file_size != static_cast<int64_t>(bytes.size())) {
    fail(fmt::format("the header says {} bytes but the file has {} (truncated or appended to?)", file_size,
                     bytes.size()));
  }
  int64_t table_end = kHeaderBytes + kSectionEntryBytes * section_count;
  if (table_end > file_size) fail("the section table runs past the end of the file");
  std::string summed(bytes.substr(0, kHeaderBytes - 8));
  summed += bytes.substr(kHeaderBytes, table_end - kHeaderBytes);
  if (checksum(summed) != table_sum) fail("the header or section table checksum does not match (corrupt file)");

  ByteReader table(bytes.substr(kHeaderBytes, table_end - kHeaderBytes), origin + ": section table");
  Artifact a;
  bool seen_manifest = false, seen_persistent = false, seen_plan = false, seen_code = false, seen_cuda = false;
  for (uint32_t i = 0; i < section_count; ++i) {
    uint32_t kind = table.scalar<uint32_t>("section kind");
    table.scalar<uint32_t>("reserved");
    int64_t offset = table.i64("section offset");
    int64_t size = table.i64("section size");
    uint64_t sum = table.scalar<uint64_t>("section checksum");
    std::string name = fmt::format("section {} ({})", i, section_name(kind));
    if (offset < table_end || size < 0 || offset > file_size || size > file_size - offset) {
      fail(fmt::format("{} at [{}, +{}) lies outside the file's {} bytes", name, offset, size, file_size));
    }
    std::string_view body = bytes.substr(offset, size);
    if (checksum(body) != sum) fail(fmt::format("{} fails its checksum (corrupt file)", name));
    std::string context = fmt::format("{}: {}", origin, name);
    auto once = [&](bool& seen) {
      if (seen) fail(name + " appears twice");
      seen = true;
    };
    switch (static_cast<SectionKind>(kind)) {
      case SectionKind::manifest:
        once(seen_manifest);
        a.manifest = decode_manifest(ByteReader(body, context));
        break;
      case SectionKind::persistent:
        once(seen_persistent);
        a.persistent = decode_persistent(ByteReader(body, context));
        break;
      case SectionKind::entry_point:
        a.entries.push_back(decode_entry(ByteReader(body, context), version));
        break;
      case SectionKind::memory_plan:
        once(seen_plan);
        a.memory_plan_json = std::string(body);
        break;
      case SectionKind::code:
        once(seen_code);
        a.code = std::string(body);
        break;
      case SectionKind::cuda_code:
        once(seen_cuda);
        if (version < 3) fail(name + " in a version 2 artifact");
        a.cuda = decode_cuda_code(ByteReader(body, context));
        break;
      default:
        fail(fmt::format("{} has an unknown kind {}", name, kind));
    }
  }
  // Bytes outside the header, the table and the sections are padding and
  // must be zero: no byte of a valid artifact goes unchecked.
  std::vector<std::pair<int64_t, int64_t>> used = {{0, table_end}};
  ByteReader again(bytes.substr(kHeaderBytes, table_end - kHeaderBytes), origin + ": section table");
  for (uint32_t i = 0; i < section_count; ++i) {
    again.i64("section kind");
    int64_t offset = again.i64("section offset");
    int64_t size = again.i64("section size");
    again.i64("section checksum");
    used.emplace_back(offset, offset + size);
  }
  std::sort(used.begin(), used.end());
  int64_t covered = 0;
  for (const auto& [begin, end] : used) {
    for (int64_t i = covered; i < begin; ++i) {
      if (bytes[i] != '\0') fail(fmt::format("byte {} lies between sections and is not zero padding", i));
    }
    covered = std::max(covered, end);
  }
  for (int64_t i = covered; i < file_size; ++i) {
    if (bytes[i] != '\0') fail(fmt::format("byte {} lies after the last section and is not zero padding", i));
  }
  if (!seen_manifest) fail("no manifest section");
  if (!seen_persistent) fail("no persistent-values section");
  if (!seen_code && !seen_cuda) fail("no code section");
  if (seen_code && seen_cuda) fail("both a CPU code section and a CUDA code section");
  check_artifact(a, origin);
  return a;
}

std::string read_artifact_file(const std::string& path) { return read_whole_file(path, "artifact", kMaxFileBytes); }

}  // namespace reforge::runtime
