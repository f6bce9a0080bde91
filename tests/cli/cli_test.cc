// The `reforge` commands as a user meets them: plans written atomically in
// each format, and bad input rejected with a message that says what to do.
#include <gtest/gtest.h>

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <regex>
#include <sstream>

#include "base/error.h"
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
    if (format == "json") {
      EXPECT_EQ(content.rfind("{\n  \"schema\": \"reforge.memory_plan/1\"", 0), 0u);
    } else if (format == "html") {
      EXPECT_NE(content.find("<svg"), std::string::npos);
    } else {
      EXPECT_NE(content.find("peak arena"), std::string::npos);
    }
  }
}

// The budget sweep in each format: the text table with a row per budget,
// the JSON schema, the picture; and the plan's JSON says what the default
// budget chose.
TEST(Cli, BudgetSweepAndThePlansChoice) {
  ::testing::internal::CaptureStdout();
  ASSERT_EQ(run("plan", {"duplication", "--budget_sweep"}), 0);
  const std::string table = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(table.rfind("memory budget sweep of duplication", 0), 0u) << table;
  EXPECT_EQ(std::count(table.begin(), table.end(), '\n'), 2 + 8) << table;  // title, header, 8 budgets
  for (const std::string format : {"json", "html"}) {
    auto path = temp_path("sweep." + format);
    ASSERT_EQ(run("plan", {"duplication", "--budget_sweep", "--format=" + format, "-o", path.string()}), 0);
    const std::string content = read(path);
    EXPECT_NE(content.find(format == "json" ? "\"schema\": \"reforge.budget_sweep/1\"" : "<polyline"),
              std::string::npos)
        << content;
  }
  auto path = temp_path("plan_with_budget.json");
  ASSERT_EQ(run("plan", {"duplication", "--memory_budget=1GiB", "--format=json", "-o", path.string(),
                         "--compare=false"}),
            0);
  EXPECT_NE(read(path).find("\"memory_budget\": {\"budget_bytes\": 1073741824, \"default\": false, "
                            "\"stored_blocks\": 1, \"blocks\": 1, \"ff_chunks\": 1}"),
            std::string::npos)
      << read(path);
  // The plan states the step's work; the sweep's largest budget made the
  // same choice (every block stored, one chunk) and counts the same.
  std::smatch plan_flops, sweep_flops;
  const std::string plan = read(path), sweep = read(temp_path("sweep.json"));
  ASSERT_TRUE(std::regex_search(plan, plan_flops, std::regex(R"("step_flops": ([0-9]+))"))) << plan;
  std::string last_row = sweep.substr(sweep.rfind("\"budget_bytes\""));
  ASSERT_TRUE(std::regex_search(last_row, sweep_flops, std::regex(R"("flops": ([0-9]+))"))) << sweep;
  EXPECT_EQ(plan_flops[1], sweep_flops[1]);
  EXPECT_GT(std::stoll(plan_flops[1]), 0);
}

// The graph the back end runs, with the GEMM epilogues the passes made.
TEST(Cli, PlanPrintsTheBackendGraph) {
  ::testing::internal::CaptureStdout();
  const int status = run("plan", {"duplication", "--print_backend_graph", "--compare=false"});
  const std::string printed = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, 0);
  EXPECT_NE(printed.find("// IR the back end runs"), std::string::npos);
  EXPECT_NE(printed.find("= matmul_epilogue("), std::string::npos);
}

// The back end's stages print by name like the front half's passes.
TEST(Cli, PlanPrintsAfterABackEndStage) {
  ::testing::internal::CaptureStdout();
  const int status = run("plan", {"duplication", "--print_after=matmul-epilogue", "--compare=false"});
  const std::string printed = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, 0);
  EXPECT_NE(printed.find("// IR after matmul-epilogue\n"), std::string::npos);
  EXPECT_NE(printed.find("= matmul_epilogue("), std::string::npos);
  EXPECT_EQ(printed.find("// IR after split-column-reductions"), std::string::npos);
}

TEST(Cli, HelpListsTheFlagsAndSucceeds) {
  EXPECT_EQ(run("train", {"duplication", "--help"}), 0);
  EXPECT_EQ(run("plan", {"byte-lm", "--help"}), 0);
}

TEST(Cli, TrainRunsAFewSteps) { EXPECT_EQ(run("train", {"duplication", "--steps=2", "--show_config=false"}), 0); }

double final_accuracy(const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  int status = run("train", args);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, 0) << out;
  std::smatch m;
  if (!std::regex_search(out, m, std::regex(R"(accuracy ([0-9.]+)%)"))) {
    ADD_FAILURE() << "no final accuracy in:\n" << out;
    return 0;
  }
  return std::stod(m[1]);
}

// The compiled backend (the default) learns the copy task as the
// interpreter does: 300 steps reach over 90% (the interpreter: 94.6%).
TEST(Cli, CompiledTrainingLearnsTheCopyTask) {
  double compiled = final_accuracy({"duplication", "--steps=300", "--log_every=100", "--show_config=false"});
  EXPECT_GT(compiled, 90.0);
}

// --profile: time by op and by the DSL line that created the work, with
// achieved rates; matmuls report their GFLOP/s.
TEST(Cli, ProfileGroupsTimeByOpAndSourceLine) {
  ::testing::internal::CaptureStdout();
  EXPECT_EQ(run("train", {"duplication", "--steps=2", "--show_config=false", "--profile"}), 0);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_NE(out.find("== by op =="), std::string::npos) << out;
  EXPECT_NE(out.find("== by DSL line (top 20) =="), std::string::npos) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n  matmul +[0-9.]+ +[0-9.]+ +[0-9]+ +[0-9.]+ +[0-9.]+\n)"))) << out;
  EXPECT_TRUE(std::regex_search(out, std::regex(R"(\n  models/[a-z_/]+\.cc:[0-9]+ )"))) << out;
  // The step's work and its share of this CPU's FMA peak.
  EXPECT_TRUE(std::regex_search(
      out, std::regex(R"(\nwork: [0-9.]+ GFLOP per step as the plan does it \(recompute counted\), [0-9.]+ GFLOP/s = )"
                      R"([0-9.]+% of the FP32 FMA peak \([0-9.]+ GFLOP/s on [0-9]+ threads, [xyz]mm\)\n)")))
      << out;
}

TEST(Cli, BothBackendsGiveTheSameFirstSteps) {
  std::vector<std::string> args = {"duplication", "--steps=3", "--show_config=false"};
  double compiled = final_accuracy(args);
  args.push_back("--backend=interpreter");
  EXPECT_EQ(compiled, final_accuracy(args));
}

std::string captured(const std::string& command, const std::vector<std::string>& args) {
  ::testing::internal::CaptureStdout();
  int status = run(command, args);
  std::string out = ::testing::internal::GetCapturedStdout();
  EXPECT_EQ(status, 0) << out;
  return out;
}

// From the "step time" line on, minus the backend's name: the final loss
// and accuracy.
std::string final_line(const std::string& out) {
  size_t at = out.find("final loss");
  return at == std::string::npos ? "(no final loss in:\n" + out + ")" : out.substr(at);
}

// compile -> run trains exactly as train does from source.
TEST(Cli, CompiledArtifactRunsAsTrainDoes) {
  auto path = temp_path("duplication.rfa");
  std::string compiled = captured("compile", {"duplication", "-o", path.string()});
  EXPECT_NE(compiled.find("wrote " + path.string()), std::string::npos) << compiled;
  EXPECT_FALSE(std::filesystem::exists(path.string() + ".tmp"));
  std::string from_artifact = captured("run", {path.string(), "--steps=5", "--seed=4", "--log_every=1"});
  std::string from_source = captured("train", {"duplication", "--steps=5", "--seed=4", "--log_every=1"});
  EXPECT_EQ(final_line(from_artifact), final_line(from_source));
  std::regex step(R"(step 5/5  loss ([0-9.]+))");
  std::smatch a, b;
  ASSERT_TRUE(std::regex_search(from_artifact, a, step)) << from_artifact;
  ASSERT_TRUE(std::regex_search(from_source, b, step)) << from_source;
  EXPECT_EQ(a[1], b[1]);
  std::string evaluated = captured("run", {path.string(), "--eval_batches=2", "--eval"});
  EXPECT_NE(evaluated.find("validation over 2 batches:"), std::string::npos) << evaluated;
}

TEST(Cli, BadArtifactsAndCompileFlagsAreRejected) {
  EXPECT_NE(error_of("compile", {"duplication"}).find("needs the artifact's path: -o"), std::string::npos);
  EXPECT_NE(error_of("compile", {"duplication", "--cpu=pentium9000", "-o", temp_path("x.rfa").string()})
                .find("does not know the CPU 'pentium9000'"),
            std::string::npos);
  EXPECT_NE(error_of("run", {}).find("usage: reforge run MODEL.rfa"), std::string::npos);
  EXPECT_NE(error_of("run", {temp_path("missing.rfa").string()}).find("cannot read artifact"), std::string::npos);
  auto text = temp_path("not_an_artifact.rfa");
  std::ofstream(text) << "plain text, certainly not an artifact\n";
  EXPECT_NE(error_of("run", {text.string()}).find("wrong magic bytes"), std::string::npos);
  EXPECT_NE(error_of("run", {temp_path("").string()}).find("is a directory"), std::string::npos);
}

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
  EXPECT_NE(error_of("plan", {"duplication", "--print_after=nope"})
                .find("the back end's stages: expand-structured, share-lsh-forward"),
            std::string::npos);
  EXPECT_NE(error_of("plan", {"duplication", "-o", "/no/such/dir/plan.txt"}).find("cannot write"), std::string::npos);
  EXPECT_NE(error_of("train", {"duplication", "--backend=gpu"}).find("--backend must be llvm or interpreter"),
            std::string::npos);
  EXPECT_NE(error_of("train", {"duplication", "--threads=-2"}).find("--threads must be between"), std::string::npos);
  EXPECT_NE(error_of("train", {"duplication", "--print_kernels=yes"}).find("--print_kernels must be"),
            std::string::npos);
}

}  // namespace
}  // namespace reforge::cli
