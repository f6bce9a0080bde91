// A damaged or foreign artifact is refused with a message, never trusted:
// single bytes changed at sampled positions of the header, the section
// table and every section; the file cut at every section boundary;
// well-formed artifacts whose contents lie (a launch outside the arena, an
// unknown library function, an impossible size, a library call's
// arguments larger than its buffers); code for a CPU feature
// this machine lacks. Each case must throw reforge::Error — a crash, a
// hang or another exception fails the test.
#include <fmt/format.h>
#include <gtest/gtest.h>

#include <cstring>
#include <random>
#include <set>

#include "compiler/codegen/cpu/llvm_target.h"
#include "models/reformer_artifact.h"
#include "runtime/cpu_features.h"
#include "runtime/library_calls.h"
#include "runtime/reforge_runtime.h"
#include "tests/testing/library_call_samples.h"
#include "tests/testing/model_fixtures.h"

namespace reforge {
namespace {

// The section table as docs/ARTIFACT_FORMAT.md lays it out.
struct SectionEntry {
  int64_t offset, size;
};
constexpr int64_t kHeaderBytes = 32, kEntryBytes = 32;

std::vector<SectionEntry> section_table(const std::string& bytes) {
  uint32_t count;
  std::memcpy(&count, bytes.data() + 12, 4);
  std::vector<SectionEntry> out;
  for (uint32_t i = 0; i < count; ++i) {
    SectionEntry e;
    std::memcpy(&e.offset, bytes.data() + kHeaderBytes + i * kEntryBytes + 8, 8);
    std::memcpy(&e.size, bytes.data() + kHeaderBytes + i * kEntryBytes + 16, 8);
    out.push_back(e);
  }
  return out;
}

// The message of the Error loading `bytes` throws; fails the test when it
// loads or throws anything else.
std::string refusal(const std::string& bytes, const std::string& what) {
  try {
    runtime::Model::load(bytes, "damaged.rfa", {.threads = 1});
  } catch (const Error& e) {
    return e.what();
  } catch (const std::exception& e) {
    ADD_FAILURE() << what << ": threw a non-Reforge exception: " << e.what();
    return "";
  }
  ADD_FAILURE() << what << ": the damaged artifact was accepted";
  return "";
}

class ArtifactCorruption : public ::testing::Test {
 protected:
  static void SetUpTestSuite() {
    artifact_ = new runtime::Artifact(compile_reformer_artifact(testing::tiny_reformer_config(), "tiny"));
    bytes_ = new std::string(runtime::encode_artifact(*artifact_));
  }
  static void TearDownTestSuite() {
    delete artifact_;
    delete bytes_;
  }
  static runtime::Artifact* artifact_;
  static std::string* bytes_;
};
runtime::Artifact* ArtifactCorruption::artifact_ = nullptr;
std::string* ArtifactCorruption::bytes_ = nullptr;

TEST_F(ArtifactCorruption, TheIntactArtifactLoads) {
  EXPECT_NO_THROW(runtime::Model::load(*bytes_, "intact.rfa", {.threads = 1}));
}

TEST_F(ArtifactCorruption, EveryHeaderAndTableByteIsChecked) {
  int64_t table_end = kHeaderBytes + kEntryBytes * static_cast<int64_t>(section_table(*bytes_).size());
  for (int64_t i = 0; i < table_end; ++i) {
    std::string damaged = *bytes_;
    damaged[i] = static_cast<char>(damaged[i] ^ 0x5a);
    EXPECT_FALSE(refusal(damaged, fmt::format("byte {} of the header", i)).empty());
  }
}

TEST_F(ArtifactCorruption, SampledBytesOfEverySectionAndPaddingAreChecked) {
  std::mt19937_64 random(17);
  int cases = 0;
  for (const SectionEntry& s : section_table(*bytes_)) {
    ASSERT_GT(s.size, 0);
    std::vector<int64_t> positions = {s.offset, s.offset + s.size - 1, s.offset + s.size / 2};
    for (int k = 0; k < 24; ++k) positions.push_back(s.offset + static_cast<int64_t>(random() % s.size));
    if (s.offset + s.size < static_cast<int64_t>(bytes_->size()) && (s.offset + s.size) % 64 != 0) {
      positions.push_back(s.offset + s.size);  // the padding after it
    }
    for (int64_t at : positions) {
      std::string damaged = *bytes_;
      damaged[at] = static_cast<char>(damaged[at] ^ (1 + random() % 255));
      std::string message = refusal(damaged, fmt::format("byte {}", at));
      EXPECT_TRUE(message.find("checksum") != std::string::npos || message.find("padding") != std::string::npos)
          << message;
      ++cases;
    }
  }
  EXPECT_GT(cases, 100);
}

TEST_F(ArtifactCorruption, TruncationAtEverySectionBoundaryIsRefused) {
  std::vector<int64_t> cuts = {0, 7, 8, 16, kHeaderBytes - 1, kHeaderBytes, kHeaderBytes + kEntryBytes / 2};
  for (const SectionEntry& s : section_table(*bytes_)) {
    cuts.push_back(s.offset);
    cuts.push_back(s.offset + s.size / 2);
    cuts.push_back(s.offset + s.size - 1);
  }
  cuts.push_back(static_cast<int64_t>(bytes_->size()) - 1);
  for (int64_t cut : cuts) {
    std::string message = refusal(bytes_->substr(0, cut), fmt::format("cut at {}", cut));
    EXPECT_FALSE(message.empty()) << cut;
  }
  // Appending is as wrong as cutting.
  EXPECT_NE(refusal(*bytes_ + "x", "appended").find("the file has"), std::string::npos);
}

TEST_F(ArtifactCorruption, ForeignFilesAreNamedAsSuch) {
  EXPECT_NE(refusal("#!/bin/sh\necho hello, this is not an artifact\n", "script").find("magic"), std::string::npos);
  std::string future = *bytes_;
  future[8] = 9;  // format version 9
  EXPECT_NE(refusal(future, "version").find("format version 9"), std::string::npos);
}

// Well-formed (checksums right) but lying: caught by the consistency checks.
TEST_F(ArtifactCorruption, ConsistentChecksumsDoNotMakeLiesTrusted) {
  {
    runtime::Artifact a = *artifact_;
    runtime::Launch& l = a.entries[0].program.launches.back();
    l.buffers.back().offset = a.entries[0].program.arena_bytes;
    l.buffers.back().slot = -1;
    l.buffers.back().bytes = 64;
    std::string message = refusal(runtime::encode_artifact(a), "launch outside the arena");
    EXPECT_NE(message.find("lies outside the arena"), std::string::npos) << message;
  }
  {
    runtime::Artifact a = *artifact_;
    for (runtime::Launch& l : a.entries[0].program.launches) {
      if (l.kind == runtime::Launch::Kind::library) {
        l.function = "format_disk";
        break;
      }
    }
    std::string message = refusal(runtime::encode_artifact(a), "unknown library function");
    EXPECT_NE(message.find("format_disk"), std::string::npos) << message;
  }
  {
    runtime::Artifact a = *artifact_;
    a.entries[0].program.slots[0].type.shape = {int64_t{1} << 30, int64_t{1} << 30};
    std::string message = refusal(runtime::encode_artifact(a), "impossible slot");
    EXPECT_NE(message.find("larger than any machine"), std::string::npos) << message;
  }
  {
    runtime::Artifact a = *artifact_;
    a.entries[0].program.arena_bytes = int64_t{1} << 50;
    std::string message = refusal(runtime::encode_artifact(a), "petabyte arena");
    EXPECT_NE(message.find("more than this machine"), std::string::npos) << message;
  }
  {
    runtime::Artifact a = *artifact_;
    a.code = "not an ELF file";
    std::string message = refusal(runtime::encode_artifact(a), "code");
    EXPECT_NE(message.find("not a loadable shared object"), std::string::npos) << message;
  }
  {
    runtime::Artifact a = *artifact_;
    a.entries[0].program.launches[0].function = "train_no_such_kernel";
    a.entries[0].program.launches[0].kind = runtime::Launch::Kind::kernel;
    std::string message = refusal(runtime::encode_artifact(a), "missing kernel");
    EXPECT_NE(message.find("train_no_such_kernel"), std::string::npos) << message;
  }
}

// A library call whose constants ask more of its buffers than they hold is
// refused when the artifact loads, naming the launch and the argument or
// buffer: otherwise a GEMM or a gather would read outside its buffers.
// Every size argument of the first call of each function the artifact
// makes, enlarged in turn (checksums recomputed by encode_artifact).
TEST_F(ArtifactCorruption, ForgedArgumentsOfEveryLibraryCallAreRefused) {
  std::set<std::string> functions;
  int cases = 0;
  const runtime::Program& program = artifact_->entries[0].program;
  for (size_t at = 0; at < program.launches.size(); ++at) {
    const runtime::Launch& launch = program.launches[at];
    if (launch.kind != runtime::Launch::Kind::library || !functions.insert(launch.function).second) continue;
    const std::vector<runtime::LibraryField> fields = runtime::library_call_fields(launch.function);
    for (size_t i = 0; i < fields.size(); ++i) {
      if (fields[i].kind != runtime::LibraryField::Kind::size && fields[i].kind != runtime::LibraryField::Kind::positive)
        continue;
      runtime::Artifact a = *artifact_;
      a.entries[0].program.launches[at].ints[i] = launch.ints[i] * 1024 + 1000;
      std::string message = refusal(runtime::encode_artifact(a), launch.function + " " + fields[i].name);
      EXPECT_NE(message.find(fmt::format("library call '{}' of '{}'", launch.function, launch.node)), std::string::npos)
          << message;
      EXPECT_TRUE(message.find("buffer") != std::string::npos || message.find(fields[i].name) != std::string::npos)
          << message;
      ++cases;
    }
  }
  EXPECT_GE(functions.size(), 5u);  // the tiny Reformer's step calls at least these many
  EXPECT_GT(cases, 20);
}

// One forged launch per function of the catalogue, whether or not this
// model calls it: a valid call's constants over arena buffers one byte too
// small.
TEST_F(ArtifactCorruption, ACallOfEveryLibraryFunctionIsCheckedAgainstItsBuffers) {
  for (const testing::LibraryCallSample& sample : testing::library_call_samples()) {
    runtime::Artifact a = *artifact_;
    runtime::Program& program = a.entries[0].program;
    runtime::Launch* forged = nullptr;
    for (runtime::Launch& l : program.launches) {
      if (l.kind == runtime::Launch::Kind::library) {
        forged = &l;
        break;
      }
    }
    ASSERT_NE(forged, nullptr);
    forged->function = sample.function;
    forged->epilogue.clear();
    forged->ints = sample.ints;
    forged->buffers.clear();
    forged->output = -1;
    size_t short_one = 0;
    for (size_t i = 0; i < sample.buffer_bytes.size(); ++i) {
      forged->buffers.push_back({.slot = -1, .offset = 0, .bytes = sample.buffer_bytes[i]});
      if (sample.buffer_bytes[i] > 0 && sample.buffer_bytes[short_one] == 0) short_one = i;
    }
    ASSERT_GE(program.arena_bytes, sample.buffer_bytes[short_one]) << sample.function;
    forged->buffers[short_one].bytes -= 1;
    std::string message = refusal(runtime::encode_artifact(a), "forged " + sample.function);
    EXPECT_NE(message.find(fmt::format("library call '{}' of '{}'", sample.function, forged->node)), std::string::npos)
        << message;
    EXPECT_NE(message.find(fmt::format("buffer {} (", short_one)), std::string::npos) << message;
  }
}

// Compiled for a real CPU that has an instruction-set feature this
// machine lacks (AMD's FMA4/XOP on a newer CPU, AVX-512 on an AVX2 one).
TEST_F(ArtifactCorruption, CodeForAFeatureThisCpuLacksIsRefused) {
  std::string foreign_cpu;
  std::vector<std::string> missing;
  for (const char* cpu : {"bdver4", "skylake-avx512", "haswell"}) {
    missing = runtime::missing_cpu_features(codegen::resolve_cpu_target(cpu).required);
    if (!missing.empty()) {
      foreign_cpu = cpu;
      break;
    }
  }
  if (foreign_cpu.empty()) GTEST_SKIP() << "this CPU has every feature of the candidate CPUs";
  ArtifactOptions options{.cpu = foreign_cpu};
  std::string bytes =
      runtime::encode_artifact(compile_reformer_artifact(testing::tiny_reformer_config(), "tiny", options));
  std::string message = refusal(bytes, "foreign CPU");
  EXPECT_NE(message.find("lacks"), std::string::npos) << message;
  EXPECT_NE(message.find(missing[0]), std::string::npos) << message;
  EXPECT_NE(message.find(foreign_cpu), std::string::npos) << message;
}

TEST(ArtifactTargets, UnknownCpuNamesAreAnErrorNamingThem) {
  try {
    codegen::resolve_cpu_target("pentium9000");
    FAIL() << "accepted an unknown CPU";
  } catch (const Error& e) {
    EXPECT_NE(std::string(e.what()).find("pentium9000"), std::string::npos) << e.what();
  }
}

}  // namespace
}  // namespace reforge
