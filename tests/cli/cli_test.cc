// The `reforge` commands as a user meets them: plans written atomically in
// each format, and bad input rejected with a message that says what to do.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/ir/error.h"
#include "tools/cli/command.h"

namespace reforge::cli {
namespace {

int run(const std::string& command, const std::vector<std::string>& args) { return commands().at(command).run(args); }

std::string error_of(const std::string& command, const std::vector<std::string>& args) {
  try {
    run(command, args);
  } catch (const Error& e) {
    return e.what();
  }
  ADD_FAILURE() << "no error";
  return "";
}

std::string read(const std::filesystem::path& path) {
  std::ifstream in(path);
  std::stringstream s;
  s << in.rdbuf();
  return s.str();
}

std::filesystem::path temp_path(const std::string& name) {
  const char* dir = std::getenv("TEST_TMPDIR");
  return std::filesystem::path(dir ? dir : "/tmp") / name;
}

TEST(Cli, PlanWritesEachFormatToAFile) {
  for (const std::string format : {"text", "json", "html"}) {
    auto path = temp_path("plan." + format);
    ASSERT_EQ(run("plan", {"duplication", "--format=" + format, "-o", path.string(), "--compare=false"}), 0);
    std::string content = read(path);
    EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
    if (format == "json") EXPECT_EQ(content.rfind("{\n  \"schema\": \"reforge.memory_plan/1\"", 0), 0u);
    if (format == "html") EXPECT_NE(content.find("<svg"), std::string::npos);
    if (format == "text") EXPECT_NE(content.find("peak arena"), std::string::npos);
  }
}

TEST(Cli, HelpListsTheFlagsAndSucceeds) {
  EXPECT_EQ(run("train", {"duplication", "--help"}), 0);
  EXPECT_EQ(run("plan", {"byte-lm", "--help"}), 0);
}

TEST(Cli, TrainRunsAFewSteps) { EXPECT_EQ(run("train", {"duplication", "--steps=2", "--show_config=false"}), 0); }

TEST(Cli, BadInputIsRejectedWithWhatToChange) {
  EXPECT_NE(error_of("plan", {"no-such-model"}).find("unknown model 'no-such-model' (registered: byte-lm"),
            std::string::npos);
  EXPECT_NE(error_of("plan", {}).find("usage: reforge plan <model>"), std::string::npos);
  EXPECT_NE(error_of("plan", {"duplication", "--format=pdf"}).find("--format must be text, json or html"),
            std::string::npos);
  EXPECT_NE(error_of("plan", {"duplication", "--n_layerz=3"}).find("unknown flag --n_layerz"), std::string::npos);
  EXPECT_NE(error_of("train", {"duplication", "--seq_len=15"}).find("duplication needs an even --seq_len"),
            std::string::npos);
  EXPECT_NE(error_of("train", {"duplication", "--d_model=abc"}).find("--d_model must be an integer, got 'abc'"),
            std::string::npos);
  EXPECT_NE(error_of("plan", {"duplication", "--print_after=nope"})
                .find("cannot print after 'nope': no such pass (pipeline: simplify, cse"),
            std::string::npos);
  EXPECT_NE(error_of("plan", {"duplication", "-o", "/no/such/dir/plan.txt"}).find("cannot write"), std::string::npos);
}

}  // namespace
}  // namespace reforge::cli
