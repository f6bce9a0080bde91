#include "compiler/codegen/cpu/cpu_object.h"

#include <fcntl.h>
#include <fmt/format.h>
#include <llvm/IR/LegacyPassManager.h>
#include <llvm/Support/raw_ostream.h>
#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "compiler/codegen/cpu/gemm_micro_kernel.h"
#include "compiler/codegen/cpu/llvm_renderer.h"

extern char** environ;

namespace reforge::codegen {
namespace {

std::string emit_object(llvm::Module& module, llvm::TargetMachine& machine) {
  llvm::SmallVector<char, 0> buffer;
  llvm::raw_svector_ostream out(buffer);
  llvm::legacy::PassManager passes;
  if (machine.addPassesToEmitFile(passes, out, nullptr, llvm::CodeGenFileType::ObjectFile)) {
    throw Error("LLVM: the target cannot emit object files");
  }
  passes.run(module);
  return std::string(buffer.begin(), buffer.end());
}

// A directory that removes itself.
class TemporaryDirectory {
 public:
  TemporaryDirectory() {
    std::string pattern = (std::filesystem::temp_directory_path() / "reforge-link-XXXXXX").string();
    if (!mkdtemp(pattern.data())) throw Error("cannot create a temporary directory for linking in " + pattern);
    path_ = pattern;
  }
  ~TemporaryDirectory() {
    std::error_code ignored;
    std::filesystem::remove_all(path_, ignored);
  }
  const std::filesystem::path& path() const { return path_; }

 private:
  std::filesystem::path path_;
};

void write_bytes(const std::filesystem::path& path, const std::string& bytes) {
  std::ofstream out(path, std::ios::binary);
  out.write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
  if (!out.flush()) throw Error("cannot write " + path.string());
}

std::string read_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::ostringstream text;
  text << in.rdbuf();
  if (!in) throw Error("cannot read " + path.string());
  return text.str();
}

// Runs `argv` with its standard error sent to `log`; its exit status.
int run_program(const std::vector<std::string>& argv, const std::filesystem::path& log) {
  posix_spawn_file_actions_t actions;
  posix_spawn_file_actions_init(&actions);
  posix_spawn_file_actions_addopen(&actions, 1, log.c_str(), O_WRONLY | O_CREAT | O_TRUNC, 0600);
  posix_spawn_file_actions_adddup2(&actions, 1, 2);
  std::vector<char*> args;
  for (const std::string& a : argv) args.push_back(const_cast<char*>(a.c_str()));
  args.push_back(nullptr);
  pid_t pid = 0;
  int spawned = posix_spawnp(&pid, args[0], &actions, nullptr, args.data(), environ);
  posix_spawn_file_actions_destroy(&actions);
  if (spawned != 0) return -1;
  int status = 0;
  while (waitpid(pid, &status, 0) < 0) {
    if (errno != EINTR) return -1;
  }
  return WIFEXITED(status) ? WEXITSTATUS(status) : -1;
}

}  // namespace

std::string compile_shared_object(const std::vector<kir::Kernel>& kernels, const CpuTarget& target, int opt_level) {
  std::unique_ptr<llvm::TargetMachine> machine = make_target_machine(target, opt_level, /*pic=*/true);
  llvm::LLVMContext context;
  std::unique_ptr<llvm::Module> module = render_llvm_module(kernels, context);
  add_gemm_micro_kernel(*module, gemm_block_for(target));
  optimise(*module, *machine, opt_level);
  std::string object = emit_object(*module, *machine);

  TemporaryDirectory dir;
  write_bytes(dir.path() / "kernels.o", object);
  const char* linker = std::getenv("REFORGE_LINKER");
  std::vector<std::string> argv = {linker && *linker ? linker : "ld",
                                   "-shared",
                                   "--strip-all",
                                   "--build-id=none",
                                   "-z",
                                   "noexecstack",
                                   "-o",
                                   (dir.path() / "kernels.so").string(),
                                   (dir.path() / "kernels.o").string(),
                                   "-lm"};
  if (vector_math_available()) argv.push_back("-lmvec");
  int status = run_program(argv, dir.path() / "link.log");
  if (status != 0) {
    std::string log = std::filesystem::exists(dir.path() / "link.log") ? read_bytes(dir.path() / "link.log") : "";
    throw Error(fmt::format("linking the kernels into a shared object failed ({} {}): {}", argv[0],
                            status < 0 ? "could not be run" : fmt::format("exited with {}", status),
                            log.empty() ? "no message" : log));
  }
  return read_bytes(dir.path() / "kernels.so");
}

}  // namespace reforge::codegen
